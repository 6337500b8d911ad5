"""150 task types x 15,000 generated rows: seconds per epoch and POST -> succeeded.

Three jobs through the service, interleaved with the baseline measured in the same run: a
LinearSVC (scikit-learn defaults) fitted on the same features. An epoch costs
O(non-zero features x task types); goals: <= 1 s per epoch, <= 60 s end to end.
"""

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
from datagen import varied
from sklearn.svm import LinearSVC

from tuneloop.agent.features import featurize

N_TASKS, N_ROWS, SEED, ROUNDS = 150, 15_000, 11, 3


def svc_fit_seconds(rows: list[dict]) -> float:
    """Return the seconds LinearSVC takes to fit all rows' features."""
    x = featurize([r["input"] for r in rows])
    start = time.perf_counter()
    LinearSVC().fit(x, [r["task_type"] for r in rows])
    return time.perf_counter() - start


def main() -> None:
    """Post the rows, run the jobs and the baseline fits in turn, print the figures."""
    rows = varied(N_ROWS, N_TASKS, SEED)
    stack, client = start_stack(workers=1)
    try:
        ingest = post_rows(client, rows)
        totals, per_epoch, fits, jobs = [], [], [], []
        for _ in range(ROUNDS):
            job, seconds = run_job(client, {"include_synthetic": False, "lab_eval_set": True})
            summary = fine_tune_summary(events(client, job["id"]))
            totals.append(seconds)
            per_epoch.append(summary["epoch_seconds"] / len(job["result"]["epochs"]))
            jobs.append((job, summary))
            fits.append(svc_fit_seconds(rows))
        job, summary = jobs[-1]
        stages = stage_seconds(events(client, job["id"]))
    finally:
        stack.stop()
    result = job["result"]
    print("command: .venv/bin/python tests/benchmarks/bench_many_tasks.py")
    print(f"{N_ROWS} rows over {N_TASKS} task types posted in {ingest:.1f}s")
    print(f"hyperparameters (auto resolved): {result['hyperparameters']}")
    print(
        f"epochs run {len(result['epochs'])} (best {result['best_epoch']}, "
        f"stopped early: {result['stopped_early']}); fine-tuned task accuracy on held-out "
        f"validation rows is not evaluated here; model {mib(result['model_size_bytes'])}"
    )
    print(f"seconds per epoch: {spread(per_epoch)}")
    ckpt = summary["checkpoint_seconds"] / max(summary["epoch_seconds"], 1e-9)
    print(f"checkpoint time / epoch time (last job): {ckpt:.1%}")
    print(f"POST -> succeeded: {spread(totals)}")
    print(f"LinearSVC fit, interleaved: {spread(fits)}")
    print(f"ratio epoch / LinearSVC fit (medians): {np.median(per_epoch) / np.median(fits):.2f}")
    per_stage = ", ".join(f"{k} {v:.2f}s" for k, v in stages.items())
    print(f"wall time per stage (last job): {per_stage}")


if __name__ == "__main__":
    main()
