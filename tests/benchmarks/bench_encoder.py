"""Both model formats side by side: the n-gram agent and the sentence encoder (tuneloop-e5-small).

1. Banking77 through the API on one stack (a pipeline worker of concurrency 2: two cores).
   Rounds interleave the formats: n-gram job, encoder job on an empty embedding cache,
   encoder job again over the same rows (the cache full). Prints test accuracy and macro-F1
   from each report, job times (median, min, max), the embed stage's seconds and texts
   encoded, the second job's encoding as a share of the first's, and the texts/s each
   worker process encoded.
2. 100k generated rows over 150 task types, each format on a fresh stack: job time, stage
   times and the pipeline worker's peak RSS.
3. Out of scope on real data: Banking77 with 57 intents in scope, 10 intents trained as the
   out-of-scope task "oos" and 10 intents the agents never saw as out-of-scope eval cases;
   in-scope accuracy and out-of-scope recall of each format (thresholds chosen on validation).
Encoding grows linearly with distinct texts (about 21,000 for a Banking77-sized job with its
eval set); the router's cost grows with non-zero features x task types, as the n-gram agent's.
Pass "banking77", "100k" or "oos" to run some parts, and rounds=N for Banking77's rounds (2).
"""

import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_banking77 import rows
from benchsupport import (
    events,
    mib,
    peak_rss_bytes,
    post_rows,
    run_job,
    spread,
    stage_seconds,
    start_stack,
    worker_pid,
)
from datagen import varied
from redis import Redis

NGRAM, ENCODER = "tuneloop-keyword-baseline", "tuneloop-e5-small"
ROUNDS = 2
BIG_ROWS, BIG_TASKS, SEED = 100_000, 150, 5
OOS, OOS_SEED = "oos", 0


def empty_cache(redis_url: str) -> int:
    """Delete every cached embedding and the cache's index; return how many keys went."""
    redis, gone = Redis.from_url(redis_url), 0
    batch = []
    for key in redis.scan_iter("tuneloop:emb:*", count=5000):
        batch.append(key)
        if len(batch) == 5000:
            gone += redis.delete(*batch)
            batch = []
    return gone + (redis.delete(*batch) if batch else 0)


def one_job(client, request: dict) -> dict:
    """Run a job; return its figures."""
    job, seconds = run_job(client, request)
    job_events = events(client, job["id"])
    result = job["result"]
    tuned = result["fine_tuned_metrics"]
    return {
        "seconds": seconds,
        "accuracy": tuned["task_accuracy"],
        "macro_f1": tuned["macro_f1"],
        "baseline": result["baseline_metrics"]["task_accuracy"],
        "stages": stage_seconds(job_events),
        "embedding": next(
            (e["data"] for e in job_events if "per_worker" in (e.get("data") or {})), {}
        ),
        "events": job_events,
        "job": job,
    }


def banking77(rounds: int = ROUNDS) -> None:
    """Part 1: Banking77, both formats interleaved on one stack."""
    train, test = rows("train.csv"), rows("test.csv")
    eval_set = [{"input": r["input"], "expected_type": r["task_type"]} for r in test]
    stack, client = start_stack(workers=2)
    runs: dict[str, list[dict]] = {"ngram": [], "encoder_cold": [], "encoder_warm": []}
    try:
        ingest = post_rows(client, train)
        for _ in range(rounds):
            for name, model in (
                ("ngram", NGRAM),
                ("encoder_cold", ENCODER),
                ("encoder_warm", ENCODER),
            ):
                if name == "encoder_cold":
                    empty_cache(stack.redis_url)
                request = {"model": model, "include_synthetic": False, "eval_set": eval_set}
                runs[name].append(one_job(client, request))
    finally:
        stack.stop()
    print("command: .venv/bin/python tests/benchmarks/bench_encoder.py banking77")
    print(
        f"banking77: {len(train)} rows posted in {ingest:.1f}s; {len(test)} test cases; "
        f"{rounds} rounds of n-gram, encoder (empty cache), encoder (cache full)"
    )
    for name, jobs in runs.items():
        last = jobs[-1]
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in last["stages"].items())
        print(
            f"{name:<13} accuracy {last['accuracy']:.4f}, macro-F1 {last['macro_f1']:.4f} "
            f"(keyword baseline {last['baseline']:.4f}); job {spread([j['seconds'] for j in jobs])}"
        )
        print(f"{'':<13} stages (last): {stages}")
        if last["embedding"]:
            shown = {k: v for k, v in last["embedding"].items() if k != "per_worker"}
            print(f"{'':<13} embedding (last): {shown}")
    cold = [j["stages"].get("embed", 0.0) for j in runs["encoder_cold"]]
    warm = [j["stages"].get("embed", 0.0) for j in runs["encoder_warm"]]
    print(
        f"embed stage: empty cache {spread(cold)}; cache full {spread(warm)}; "
        f"second job's encoding = {100 * statistics.median(warm) / statistics.median(cold):.1f}% "
        "of the first's (medians of the embed stage's seconds)"
    )
    for j in runs["encoder_cold"]:
        e = j["embedding"]
        each = ", ".join(
            f"{w} {v['texts_per_s']}/s ({v['encoded']} texts)" for w, v in e["per_worker"].items()
        )
        print(
            f"encoding throughput (empty cache): {e['texts_per_s']} texts/s in all "
            f"({e['encoded']} texts, {e['parts']} parts, {e['seconds']}s); per worker process: "
            f"{each}"
        )


def big() -> None:
    """Part 2: 100k rows over 150 task types, each format on a fresh stack."""
    data = varied(BIG_ROWS, BIG_TASKS, SEED)
    print("command: .venv/bin/python tests/benchmarks/bench_encoder.py 100k")
    for model in (NGRAM, ENCODER):
        stack, client = start_stack(workers=2)
        try:
            post_rows(client, data)
            figures = one_job(
                client, {"model": model, "include_synthetic": False, "lab_eval_set": True}
            )
            rss = peak_rss_bytes(worker_pid(stack))
        finally:
            stack.stop()
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in figures["stages"].items())
        print(
            f"{BIG_ROWS} rows, {BIG_TASKS} task types, {model}: job {figures['seconds']:.1f}s, "
            f"worker peak RSS {mib(rss)}; stages: {stages}"
        )
        if figures["embedding"]:
            shown = {k: v for k, v in figures["embedding"].items() if k != "per_worker"}
            print(f"  embedding: {shown}")


def oos_split() -> tuple[list[dict], list[dict]]:
    """Return the out-of-scope experiment's training rows and eval cases (see part 3)."""
    train, test = rows("train.csv"), rows("test.csv")
    intents = sorted({r["task_type"] for r in train})
    order = random.Random(OOS_SEED).sample(intents, len(intents))
    trained_oos, unseen_oos = set(order[:10]), set(order[10:20])
    items = [
        {**r, "task_type": OOS if r["task_type"] in trained_oos else r["task_type"]}
        for r in train
        if r["task_type"] not in unseen_oos
    ]
    cases = [
        {
            "input": r["input"],
            "expected_type": OOS if r["task_type"] in unseen_oos else r["task_type"],
        }
        for r in test
        if r["task_type"] not in trained_oos
    ]
    return items, cases


def out_of_scope() -> None:
    """Part 3: Banking77 with an out-of-scope task, both formats on one stack."""
    items, cases = oos_split()
    stack, client = start_stack(workers=2)
    try:
        post_rows(client, items)
        request = {"include_synthetic": False, "eval_set": cases, "out_of_scope_task": OOS}
        jobs = {m: one_job(client, {**request, "model": m}) for m in (NGRAM, ENCODER)}
    finally:
        stack.stop()
    print("command: .venv/bin/python tests/benchmarks/bench_encoder.py oos")
    n_oos = sum(c["expected_type"] == OOS for c in cases)
    print(
        f"banking77 out of scope: {len(items)} rows (10 intents as {OOS!r}), {len(cases)} cases "
        f"({n_oos} of 10 intents never seen, as {OOS!r})"
    )
    for model, j in jobs.items():
        result = j["job"]["result"]
        tuned, chosen = result["out_of_scope"]["fine_tuned"], result["abstention"]
        print(
            f"{model:<26} in-scope accuracy {tuned['in_scope_accuracy']:.4f}, out-of-scope "
            f"recall {tuned['out_of_scope_recall']:.4f}, precision "
            f"{tuned['out_of_scope_precision']:.4f}; threshold {chosen['threshold']:.4f}, "
            f"similarity floor {chosen.get('similarity')}; job {j['seconds']:.1f}s"
        )


def main() -> None:
    """Run the parts named on the command line (all by default)."""
    rounds = [int(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("rounds=")]
    parts = [a for a in sys.argv[1:] if not a.startswith("rounds=")] or ["banking77", "oos", "100k"]
    if "banking77" in parts:
        banking77(*rounds[-1:])
    if "oos" in parts:
        out_of_scope()
    if "100k" in parts:
        big()


if __name__ == "__main__":
    main()
