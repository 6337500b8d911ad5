"""`make demo`: start the stack, post rated interactions, fine-tune, print the lab's report."""

import contextlib
import os
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path

from tuneloop_cli import lab_report
from tuneloop_cli.client import Api, Config
from tuneloop_cli.report import events_of

from tuneloop.agent.lab import SYNTHETIC_EXAMPLES
from tuneloop_devstack.demo_data import HUMAN_RATED
from tuneloop_devstack.stack import Stack

JOB_REQUEST = {
    "min_score": 0.8,
    "include_synthetic": False,  # the demo posts the lab's synthetic examples itself
    "holdout_fraction": 0.25,
    "lab_eval_set": True,  # the lab's five test cases too, as the lab evaluated
    "hyperparameters": {"seed": 42},  # the rest "auto": chosen from the data size
    "suffix": "demo",
    # Promote only if task accuracy rose for sure: on the demo's few cases it cannot tell.
    "promote_if": [{"metric": "task_accuracy", "min_delta": 0.01, "use_lower_bound": True}],
}
POLL_TIMEOUT = 300.0


def interactions() -> list[dict]:
    """Return the lab's synthetic interactions and the demo's human-rated ones."""
    synthetic = [{**ex, "source": "synthetic"} for ex in SYNTHETIC_EXAMPLES]
    human = [
        {"input": i, "output": o, "rating": r, "task_type": t, "source": "human"}
        for i, o, r, t in HUMAN_RATED
    ]
    return synthetic + human


def wait_for_job(client: Api, job_id: str) -> dict:
    """Poll the job, printing stage and progress, until it finishes."""
    deadline, last = time.monotonic() + POLL_TIMEOUT, None
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}")
        shown = (job["status"], job["stage"], job["progress"]["current"])
        if shown != last:
            p = job["progress"]
            print(
                f"  {job['status']:<9} stage={job['stage'] or '-':<20} "
                f"{p['current']}/{p['total']} ({p['percent']:.0f}%)"
            )
            last = shown
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    sys.exit(f"job {job_id} did not finish within {POLL_TIMEOUT:.0f}s")


def run(client: Api) -> int:
    """Post the data, run one job and print its report; return the exit status."""
    posted = client.post("/v1/interactions/batch", {"items": interactions()})
    print(f"Posted {posted['count']} rated interactions through the API.")
    job = client.post("/v1/jobs", JOB_REQUEST)
    print(f"Created job {job['id']}. Watch it live: {client.base}/ui/jobs/{job['id']}")
    print(f"(sign in with the demo's API key {client.config.api_key}); polling:")
    job = wait_for_job(client, job["id"])
    print(lab_report.render(job, events_of(client, job["id"])))
    if job["status"] != "succeeded":
        return 1
    regressed = client.get(f"/v1/jobs/{job['id']}/cases", outcome="regressed", limit=5)["data"]
    for case in regressed:
        base, tuned = case["baseline"]["task_type"], case["fine_tuned"]["task_type"]
        print(
            f"  regressed #{case['index']}: {case['input']!r} [expected {case['expected_type']}]"
            f" baseline {base}, fine-tuned {tuned}"
        )
    answer = client.post(
        f"/v1/models/{job['result']['model_id']}/responses",
        {"input": "Will it be sunny in Madrid tomorrow?"},
    )
    print(f"\nAsked the fine-tuned model 'Will it be sunny in Madrid tomorrow?':\n  {answer}")
    return 0


def hold_for_viewing(stack: Stack) -> None:
    """In a terminal, keep the stack up for the pages until Enter or Ctrl-C."""
    if not sys.stdin.isatty():
        return
    print(f"\nThe pages stay up at {stack.base_url}/ui/jobs until you press Enter.")
    with contextlib.suppress(EOFError, KeyboardInterrupt):
        input()


def interrupt(signum: int, _frame: object) -> None:
    """Turn SIGTERM into the same clean stop as Ctrl-C (the stack stopped, its directory gone)."""
    raise KeyboardInterrupt


def main() -> None:
    """Run the demo on a private stack and stop everything it started."""
    started = time.monotonic()
    signal.signal(signal.SIGTERM, interrupt)
    port = int(os.environ.get("PORT", "0"))  # 0: a free port
    # Throwaway: its Redis data and logs live in a directory removed at the end.
    with tempfile.TemporaryDirectory(prefix="tuneloop-demo-") as workdir:
        stack = Stack(
            api_key=secrets.token_urlsafe(16), port=port, workers=2, workdir=Path(workdir)
        )
        try:
            print("Starting redis-server, 2 worker processes and the gateway…")
            stack.start()
            status = run(Api(Config(stack.base_url, stack.api_key)))
            hold_for_viewing(stack)
        finally:
            stack.stop()
    print(
        f"\nDemo finished in {time.monotonic() - started:.1f}s; everything it started is stopped."
    )
    sys.exit(status)


if __name__ == "__main__":
    main()
