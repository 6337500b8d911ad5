"""Banking77 through the API: accuracy and macro-F1 of the fine-tuned agent on the test split.

Posts the 10,003 training rows as rated interactions and runs a job with the 3,080 test rows
as its eval set, three times, interleaved with the baseline measured in the same run: a
LinearSVC (scikit-learn defaults) on the same features and the same training side.
Prints the report's summary: accuracy and macro-F1 with 95% CIs, McNemar against the keyword
baseline, the verdict and the most confused pairs.
Cost grows linearly with rows x task types (see README, "How the agent learns"); the report's
paired bootstrap grows linearly with evaluation cases x resamples.
"""

import csv
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np
from benchsupport import (
    events,
    fine_tune_summary,
    mib,
    post_rows,
    run_job,
    spread,
    stage_seconds,
    start_stack,
)
from sklearn.metrics import f1_score
from sklearn.svm import LinearSVC

from tuneloop.agent import registry
from tuneloop.agent.features import featurize
from tuneloop.stages.prepare import DEFAULT_VALIDATION_FRACTION, in_validation
from tuneloop.store import Store

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "banking77"
ROUNDS = 3


def rows(name: str) -> list[dict]:
    """Return a split as rated interactions (the answer names the intent)."""
    with (DATA / name).open(newline="") as f:
        return [
            {
                "input": r["text"],
                "output": f"I can help with that: {r['category'].replace('_', ' ')}.",
                "rating": 0.9,
                "task_type": r["category"],  # as it is ("reverted_card_payment?" too)
            }
            for r in csv.DictReader(f)
        ]


def linear_svc(train: list[dict], test: list[dict], seed: int) -> tuple[float, float, float]:
    """Fit LinearSVC on the job's training side; return accuracy, macro-F1 and fit seconds."""
    kept = [r for r in train if not in_validation(r["input"], seed, DEFAULT_VALIDATION_FRACTION)]
    x = featurize([r["input"] for r in kept])
    start = time.perf_counter()
    svc = LinearSVC().fit(x, [r["task_type"] for r in kept])
    seconds = time.perf_counter() - start
    predicted = svc.predict(featurize([r["input"] for r in test]))
    truth = [r["task_type"] for r in test]
    return float(np.mean(predicted == truth)), f1_score(truth, predicted, average="macro"), seconds


def ci(interval: list[float] | None) -> str:
    """Format a 95% confidence interval."""
    return "n/a" if interval is None else f"[{interval[0]:.4f}, {interval[1]:.4f}]"


def print_report_summary(job: dict) -> None:
    """Print the report's classification truth and uncertainty, as the job's result holds them."""
    r = job["result"]
    s = r["significance"]
    boot = s["bootstrap"]
    print(
        f"report summary ({s['n_cases']} cases; 95% CIs from a paired bootstrap, "
        f"{boot['resamples']} resamples, seed {boot['seed']}):"
    )
    for agent in ("baseline", "fine_tuned"):
        m = r[f"{agent}_metrics"]
        print(
            f"  {agent:<10} accuracy {m['task_accuracy']:.4f} {ci(m['ci95']['task_accuracy'])}, "
            f"macro-F1 {m['macro_f1']:.4f} {ci(m['ci95']['macro_f1'])}"
        )
    for name in ("task_accuracy", "macro_f1"):
        change = r["improvement"][name]
        print(f"  change in {name}: {change['absolute']:+.4f} {ci(change['absolute_ci95'])}")
    test = s["mcnemar"]
    print(
        f"  McNemar exact vs baseline: p {p_value(test['p_value'])} "
        f"(fine-tuned only right {test['fine_tuned_only_correct']}, "
        f"baseline only right {test['baseline_only_correct']}, "
        f"both right {test['both_correct']}, both wrong {test['both_wrong']})"
    )
    print(f"  conclusive: {s['conclusive']}; verdict: {s['verdict']}")
    print_confusions(r["classification"])
    added = len(json.dumps(r["classification"])) + len(json.dumps(s))
    print(
        f"  job record as GET returns it: {len(json.dumps(job)):,} bytes of JSON "
        f"({added:,} of them classification and significance)"
    )
    excerpt = {
        "fine_tuned_metrics.ci95": r["fine_tuned_metrics"]["ci95"],
        "improvement.task_accuracy": r["improvement"]["task_accuracy"],
        "significance": s,
    }
    print("  excerpt: " + json.dumps(excerpt))


def print_confusions(classification: dict) -> None:
    """Print each agent's top confused pairs and the fine-tuned agent's weakest task types."""
    for agent in ("fine_tuned", "baseline"):
        pairs = classification[agent]["confused_pairs"][:5]
        shown = "; ".join(f"{p['expected']} -> {p['predicted']} ({p['count']})" for p in pairs)
        print(f"  top confused pairs, {agent}: {shown}")
    worst = sorted(classification["fine_tuned"]["by_task_type"].items(), key=_by_f1)[:3]
    shown = "; ".join(
        f"{t} F1 {v['f1']:.3f} (P {v['precision']:.3f}, R {v['recall']:.3f}, n {v['support']})"
        for t, v in worst
    )
    print(f"  lowest per-task F1, fine_tuned: {shown}")


def p_value(p: float) -> str:
    """Format a p-value; 0.0 is a float underflow, not a certainty."""
    return "< 1e-300 (0.0 in the report: the float underflows)" if p < 1e-300 else f"= {p:.3g}"


def _by_f1(item: tuple[str, dict]) -> tuple[float, str]:
    return item[1]["f1"], item[0]


def main() -> None:
    """Post, fine-tune, evaluate, compare; print every figure with the command."""
    train, test = rows("train.csv"), rows("test.csv")
    eval_set = [{"input": r["input"], "expected_type": r["task_type"]} for r in test]
    request = {"include_synthetic": False, "eval_set": eval_set}
    stack, client = start_stack(workers=1)
    try:
        ingest = post_rows(client, train)
        jobs, service, svc_runs = [], [], []
        for _ in range(ROUNDS):
            job, seconds = run_job(client, request)
            jobs.append(job)
            service.append(seconds)
            svc_runs.append(linear_svc(train, test, job["request"]["hyperparameters"]["seed"]))
        job = jobs[-1]
        job_events = events(client, job["id"])
        stages = stage_seconds(job_events)
        summary = fine_tune_summary(job_events)
        store = Store.from_url(stack.redis_url)
        meta = store.models.meta(job["model_id"])
        agent = registry.load(meta["format"], meta["id"], store.models.payload(meta["id"]))
        predicted = [a.task_type for a in agent.respond_many([r["input"] for r in test])]
    finally:
        stack.stop()
    truth = [r["task_type"] for r in test]
    tuned = job["result"]["fine_tuned_metrics"]
    print("command: .venv/bin/python tests/benchmarks/bench_banking77.py")
    print(f"banking77: {len(train)} rated rows posted in {ingest:.1f}s, {len(test)} test cases")
    print(f"hyperparameters (auto resolved): {job['result']['hyperparameters']}")
    print(
        f"fine-tuned: task accuracy {tuned['task_accuracy']:.4f} (report), "
        f"{np.mean(np.array(predicted) == truth):.4f} (stored model, recomputed), "
        f"macro-F1 {f1_score(truth, predicted, labels=sorted(set(truth)), average='macro'):.4f} "
        "(recomputed), "
        f"{tuned['macro_f1']:.4f} (report); "
        f"best epoch {job['result']['best_epoch']} of {len(job['result']['epochs'])}"
    )
    baseline = job["result"]["baseline_metrics"]["task_accuracy"]
    print(f"baseline keyword agent: task accuracy {baseline:.4f}")
    acc, f1, _ = svc_runs[-1]
    print(
        f"LinearSVC on the same features and training side: accuracy {acc:.4f}, macro-F1 {f1:.4f}"
    )
    print(
        "wall time per stage (last job): " + ", ".join(f"{k} {v:.2f}s" for k, v in stages.items())
    )
    per_epoch = summary["epoch_seconds"] / len(job["result"]["epochs"])
    print(
        f"train rows {job['result']['training_data']['total_examples']}, "
        f"{per_epoch:.2f}s per epoch, model {mib(job['result']['model_size_bytes'])}"
    )
    print_report_summary(job)
    print(f"POST -> succeeded over {ROUNDS} jobs: {spread(service)}")
    fits = [s for _, _, s in svc_runs]
    print(f"LinearSVC fit alone, interleaved with the jobs: {spread(fits)}")
    print(f"ratio job / LinearSVC fit (medians): {np.median(service) / np.median(fits):.1f}x")


if __name__ == "__main__":
    main()
