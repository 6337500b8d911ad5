"""Banking77 with the job's defaults: what a new user's first job is scored on.

Posts the 10,003 training rows as rated interactions and runs, one after the other, the
default job (`{}`: scored on a stratified fifth of the user's rows, held out) and the job that
asks for what the defaults were before (`lab_eval_set` and `include_synthetic`: scored on
the lab's five weather / travel / general questions). Prints, for each, the request as
stored, what it was evaluated on, and both agents' task accuracy.
`--only '{...}'` runs just that request (e.g. `--only '{}'` against an older checkout).
Cost grows linearly with rows x task types (see README, "How the agent learns").
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_banking77 import rows
from benchsupport import post_rows, run_job, start_stack

REQUESTS = {
    "default": {},
    "lab (the old default)": {"lab_eval_set": True, "include_synthetic": True},
}


def describe(name: str, job: dict, seconds: float) -> None:
    """Print what the job was evaluated on and how each agent did."""
    r = job["result"]
    data, base, tuned = r["training_data"], r["baseline_metrics"], r["fine_tuned_metrics"]
    shown = {k: job["request"][k] for k in sorted(job["request"]) if k != "hyperparameters"}
    held = data.get("holdout_distribution") or {}
    print(f"{name}: request {json.dumps(shown)}")
    print(
        f"  evaluated on {base['n_cases']} cases ({data['holdout_examples']} held-out rows of "
        f"{len(held)} task types, at least {min(held.values(), default=0)} per task type); "
        f"trained on {data['total_examples']} rows, {data['validation_examples']} validate"
    )
    print(
        f"  task accuracy: baseline {base['task_accuracy']:.4f}, fine-tuned "
        f"{tuned['task_accuracy']:.4f}, change {r['improvement']['task_accuracy']['absolute']:+.4f}"
        f"; task types evaluated: {len(tuned['by_task_type'])}; POST -> succeeded {seconds:.1f}s"
    )


def main() -> None:
    """Post Banking77's train split, run each request, print what each was scored on."""
    requests = REQUESTS
    if len(sys.argv) == 3 and sys.argv[1] == "--only":
        requests = {"only": json.loads(sys.argv[2])}
    train = rows("train.csv")
    stack, client = start_stack(workers=1)
    try:
        print(f"banking77: {len(train)} rated rows posted in {post_rows(client, train):.1f}s")
        for name, request in requests.items():
            describe(name, *run_job(client, request))
    finally:
        stack.stop()
    print("command: .venv/bin/python tests/benchmarks/bench_banking77_default.py")


if __name__ == "__main__":
    main()
