"""The scheduler: Celery beat with RedBeat's lock in Redis fires from one process at a time,
a second takes over when the first dies, and an autopilot's run is claimed once.

A private stack: redis-server, the webhooks worker (which takes the ticks) and two scheduler
processes ticking every second with a 4 s lock.
"""

import json
import signal
import time
from collections.abc import Iterator

import pytest

from tuneloop import graph
from tuneloop.store import Store, ids
from tuneloop_worker.beat import KEY_PREFIX

from .support import Stack, private_stack, wait_until
from .support.scheduler import ticks_done

pytestmark = pytest.mark.integration

SETTINGS = {"TUNELOOP_SCHEDULER_INTERVAL": "1", "TUNELOOP_SCHEDULER_LOCK_TIMEOUT": "4"}
SENT = "Sending due task autopilot-tick"


def sends(stack: Stack, name: str) -> int:
    """How many ticks the scheduler process name has sent (in its whole log)."""
    return stack.log_text(name).count(SENT)


@pytest.fixture
def stack() -> Iterator[Stack]:
    """redis-server and the webhooks worker; the tests start the schedulers."""
    with private_stack("tuneloop-scheduler-", SETTINGS) as stack:
        stack.start_redis(appendfsync=None)
        stack.start_webhooks_worker()
        yield stack


def test_a_second_scheduler_never_fires_while_the_first_holds_the_lock(stack: Stack) -> None:
    stack.start_beat("beat-1", wait=True)
    stack.start_beat("beat-2")
    wait_until(
        lambda: "beat: Starting..." in stack.log_text("beat-2"),
        30,
        lambda: f"beat-2 to start and wait for the lock\n{stack.logs()}",
    )
    start = sends(stack, "beat-1")
    wait_until(lambda: sends(stack, "beat-1") >= start + 5, 30, stack.logs)
    assert sends(stack, "beat-2") == 0, stack.log_text("beat-2")
    assert "Acquired lock" not in stack.log_text("beat-2")
    done = ticks_done(stack)
    wait_until(lambda: ticks_done(stack) >= done + 3, 30, stack.logs)


def test_the_second_scheduler_takes_over_when_the_first_is_killed(stack: Stack) -> None:
    stack.start_beat("beat-1", wait=True)
    stack.start_beat("beat-2")
    wait_until(lambda: sends(stack, "beat-1") >= 2, 30, stack.logs)
    stack.kill("beat-1")
    killed_at = time.monotonic()
    stack.wait_beat("beat-2", timeout=30)  # the lock expires 4 s after its last renewal
    print(f"\nbeat-1 killed to beat-2 holding the lock: {time.monotonic() - killed_at:.1f} s")
    wait_until(lambda: sends(stack, "beat-2") >= 3, 30, stack.logs)
    done = ticks_done(stack)
    wait_until(lambda: ticks_done(stack) >= done + 2, 30, stack.logs)


def test_a_restarted_scheduler_keeps_its_schedule_in_redis(stack: Stack) -> None:
    stack.start_beat("beat", wait=True)
    wait_until(lambda: sends(stack, "beat") >= 2, 30, stack.logs)
    entry = f"{KEY_PREFIX}autopilot-tick"
    before = json.loads(stack.probe().hget(entry, "meta"))["last_run_at"]
    stack.proc("beat").signal(signal.SIGTERM)  # a clean stop releases the lock
    stack.proc("beat").wait(30)
    assert json.loads(stack.probe().hget(entry, "meta"))["last_run_at"] == before
    stack.proc("beat").restart()
    stack.wait_beat("beat", timeout=30)
    wait_until(
        lambda: json.loads(stack.probe().hget(entry, "meta"))["last_run_at"] != before,
        30,
        stack.logs,
    )


def test_two_claims_of_the_same_run_start_it_once_even_after_it_ended(stack: Stack) -> None:
    store = Store.from_url(stack.redis_url)
    view = store.scoped("default")
    spec = {"trigger": {"new_ratings": 1}, "job": {}, "promote_if": [], "rollback_if": None}
    autopilot = view.autopilots.create(spec, "tests", 0)
    runs = [
        {"job_id": ids.new_job(graph.FINE_TUNING), "reason": "r", "started_at": 1} for _ in range(3)
    ]
    # Both schedulers read the autopilot before either claimed it.
    won = [view.autopilots.claim(autopilot, run, 5) for run in runs[:2]]
    assert won == [True, False]
    read = view.autopilots.get(autopilot["id"], runs=10)
    assert read["in_flight"] == runs[0]["job_id"] and read["runs_count"] == 1
    assert [r["job_id"] for r in read["runs"]] == [runs[0]["job_id"]]
    assert read["ratings_at_last_run"] == 5
    # The first run ends before the slower scheduler claims on what it read before it.
    assert view.autopilots.settle(autopilot["id"], runs[0]["job_id"], {"status": "failed"})
    assert view.autopilots.claim(autopilot, runs[2], 5) is False
    assert view.autopilots.get(autopilot["id"])["runs_count"] == 1
    store.redis.close()
