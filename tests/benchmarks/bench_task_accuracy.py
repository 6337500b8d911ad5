"""Fine-tuned vs baseline task accuracy on a held-out split of 20 generated task types.

Runs through the real stack: a private redis-server, worker processes, the gateway.
"""

import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from datagen import generate
from tuneloop_cli.client import Api, Config
from tuneloop_devstack.procs import free_port
from tuneloop_devstack.stack import Stack

N_TASKS, PER_TASK, EVAL_PER_TASK, SEED = 20, 40, 10, 7


def wait(client: Api, job_id: str, timeout: float = 600) -> dict:
    """Poll until the job finishes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}")
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.25)
    sys.exit(f"job {job_id} did not finish in {timeout}s")


def main() -> None:
    """Post generated data, fine-tune with a 30% holdout plus an eval set; print accuracies."""
    stack = Stack(api_key=secrets.token_urlsafe(16), port=free_port(), workers=2)
    try:
        stack.start()
        client = Api(Config(stack.base_url, stack.api_key))
        rows = generate(PER_TASK, SEED, N_TASKS)
        for start in range(0, len(rows), 1000):
            client.post("/v1/interactions/batch", {"items": rows[start : start + 1000]})
        eval_set = [
            {"input": r["input"], "expected_type": r["task_type"], "reference_output": r["output"]}
            for r in generate(EVAL_PER_TASK, SEED + 1, N_TASKS)
        ]
        job = client.post(
            "/v1/jobs",
            {
                "min_score": 0.0,
                "include_synthetic": False,
                "holdout_fraction": 0.3,
                "eval_set": eval_set,
            },
        )
        job = wait(client, job["id"])
    finally:
        stack.stop()
    if job["status"] != "succeeded":
        sys.exit(f"job failed: {job['error']}")
    r = job["result"]
    base, tuned = r["baseline_metrics"], r["fine_tuned_metrics"]
    held = r["training_data"]["holdout_examples"]
    print(
        f"task types: {len(r['training_data']['task_distribution'])}, "
        f"train examples: {r['training_data']['total_examples']}, held-out examples: {held}"
    )
    dropped = r["training_data"]["dropped"]
    print(
        f"evaluation cases: {base['n_cases']} (held-out split + a generated eval set; "
        f"{dropped.get('in_evaluation_set', 0)} posted rows equal to an eval input were "
        "kept out of training)"
    )
    print(f"baseline   task_accuracy: {base['task_accuracy']:.3f}")
    print(f"fine-tuned task_accuracy: {tuned['task_accuracy']:.3f}")
    print(f"ratio fine-tuned / baseline: {tuned['task_accuracy'] / base['task_accuracy']:.2f}x")
    print(f"final epoch losses: {r['epochs'][-1]}")


if __name__ == "__main__":
    main()
