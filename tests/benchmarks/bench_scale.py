"""10k, 100k and 1M interactions over 20 task types: ingest, job time per stage, memory.

Each size runs on a fresh stack (its own redis-server). Prints ingest records/s, the job's
wall time per stage, the pipeline worker's peak RSS, and Redis memory before ingest, after
ingest, at its peak during the job, and after the job. Work grows linearly with rows: the
1M job should take at most 11x the 100k job. Pass sizes as arguments to run fewer.
"""

import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from benchsupport import (
    events,
    fine_tune_summary,
    mib,
    peak_rss_bytes,
    post_rows,
    redis_used,
    run_job,
    stage_seconds,
    start_stack,
    worker_pid,
)
from datagen import varied

N_TASKS, SEED = 20, 5
SIZES = (10_000, 100_000, 1_000_000)


def one_size(n: int) -> dict:
    """Run one size on a fresh stack; return its figures."""
    rows = varied(n, N_TASKS, SEED)
    stack, client = start_stack(workers=1)
    try:
        empty = redis_used(stack)
        ingest = post_rows(client, rows)
        del rows
        stored = redis_used(stack)
        peak = [stored]
        job, seconds = run_job(
            client,
            {"include_synthetic": False, "lab_eval_set": True},
            every=lambda: peak.append(redis_used(stack)),
        )
        job_events = events(client, job["id"])
        after = redis_used(stack)
        rss = peak_rss_bytes(worker_pid(stack))
    finally:
        stack.stop()
    return {
        "n": n,
        "ingest_rps": n / ingest,
        "job_seconds": seconds,
        "stages": stage_seconds(job_events),
        "summary": fine_tune_summary(job_events),
        "epochs": len(job["result"]["epochs"]),
        "hyperparameters": job["result"]["hyperparameters"],
        "rss": rss,
        "redis": (empty, stored, max(peak), after),
        "model_bytes": job["result"]["model_size_bytes"],
    }


def main() -> None:
    """Run each size and print its figures, then the growth ratios."""
    sizes = [int(a) for a in sys.argv[1:]] or list(SIZES)
    print(f"command: .venv/bin/python tests/benchmarks/bench_scale.py {' '.join(sys.argv[1:])}")
    results = []
    for n in sizes:
        r = one_size(n)
        results.append(r)
        empty, stored, peak, after = r["redis"]
        print(f"--- {n} interactions, {N_TASKS} task types")
        print(f"ingest: {r['ingest_rps']:.0f} records/s")
        print(
            f"POST job -> succeeded: {r['job_seconds']:.1f}s; {r['epochs']} epochs; "
            f"auto: {r['hyperparameters']}"
        )
        print("stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in r["stages"].items()))
        s = r["summary"]
        print(
            f"fine_tune: features {s['feature_seconds']:.1f}s, epochs {s['epoch_seconds']:.1f}s, "
            f"checkpoints {s['checkpoint_seconds']:.2f}s; model {mib(r['model_bytes'])}"
        )
        print(f"worker peak RSS: {mib(r['rss'])}")
        print(
            f"redis: empty {mib(empty)}, after ingest {mib(stored)} "
            f"({(stored - empty) / n:.0f} bytes/interaction), peak during job {mib(peak)}, "
            f"after job {mib(after)} (after - after ingest: {mib(after - stored)})"
        )
    for small, big in itertools.pairwise(results):
        ratio = big["job_seconds"] / small["job_seconds"]
        rows = big["n"] / small["n"]
        print(f"job time {big['n']} / {small['n']}: {ratio:.1f}x for {rows:.0f}x rows")


if __name__ == "__main__":
    main()
