"""`make demo`: start the stack, post rated interactions, fine-tune, print the lab's report."""

import contextlib
import math
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
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
HOLD_SETTING = "DEMO_HOLD"  # seconds a demo without a terminal keeps its pages up


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


def run(client: Api, shown: dict) -> int:
    """Post the data, run one job and print its report; return the exit status (the job's id
    goes into shown as soon as it exists, for the pages' link)."""
    posted = client.post("/v1/interactions/batch", {"items": interactions()})
    print(f"Posted {posted['count']} rated interactions through the API.")
    job = client.post("/v1/jobs", JOB_REQUEST)
    shown["job_id"] = job["id"]
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


def hold_seconds(env: Mapping[str, str]) -> float:
    """DEMO_HOLD: how long a demo without a terminal keeps its pages up (0 when unset)."""
    raw = env.get(HOLD_SETTING, "").strip()
    try:
        seconds = float(raw) if raw else 0.0
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:  # nan, inf: time.sleep would fail or hang
        sys.exit(f"{HOLD_SETTING} must be a finite number of seconds, 0 or more, not {raw!r}")
    return seconds


def hold_for_viewing(stack: Stack, job_id: str | None, env: Mapping[str, str] = os.environ) -> None:
    """Keep the stack up for the pages: in a terminal until Enter or Ctrl-C, without one for
    DEMO_HOLD seconds; the job's link works until then, and says so when it stops working."""
    page = f"{stack.base_url}/ui/jobs/{job_id}" if job_id else f"{stack.base_url}/ui/jobs"
    interactive, seconds = sys.stdin.isatty(), hold_seconds(env)
    if not interactive and not seconds:
        print(
            f"\nNo terminal to wait on: the stack stops now and {page} with it "
            f"({HOLD_SETTING}=600 keeps the pages up for 600 s)."
        )
        return
    until = "you press Enter" if interactive else f"{seconds:g} s have passed"
    print(f"\nThe job's page stays up at {page} (key {stack.api_key}) until {until}.", flush=True)
    with contextlib.suppress(EOFError, KeyboardInterrupt):
        if interactive:
            input()
        else:
            time.sleep(seconds)  # waiting for the reader: nothing to poll


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
            shown: dict = {}
            status = run(Api(Config(stack.base_url, stack.api_key)), shown)
            hold_for_viewing(stack, shown.get("job_id"))
        finally:
            stack.stop()
    print(
        f"\nDemo finished in {time.monotonic() - started:.1f}s; everything it started is stopped."
    )
    sys.exit(status)


if __name__ == "__main__":
    main()
