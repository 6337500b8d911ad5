"""A paused job through faults: its runner dies while it is pausing, every process restarts.

One gated stack for the module (support/pausing.py): Redis with its append-only file (fsync
always), the gateway and one worker sweeping every second.
"""

import signal
import time
from collections.abc import Iterator

import pytest

from tuneloop import contracts
from tuneloop.celery_config import PIPELINE_QUEUE
from tuneloop.store import keys
from tuneloop.trainers import softmax as training

from .support import (
    ApiClient,
    Stack,
    all_events,
    client_for,
    deliveries,
    describe_job,
    epochs_in,
    report_recovery,
    seed_interactions,
    wait_for_job,
    wait_job_status,
    wait_until,
)
from .support.pausing import (
    SWEEP_INTERVAL,
    Gates,
    assert_frozen,
    gated_stack,
    held_after_first_epoch,
    pause,
    paused_after_second_epoch,
    resume,
    wait_holds_nothing,
)

pytestmark = pytest.mark.integration

N_EPOCHS = 12


@pytest.fixture(scope="module")
def gates(tmp_path_factory: pytest.TempPathFactory) -> Gates:
    """The worker's gate files, open."""
    root = tmp_path_factory.mktemp("gates")
    return Gates(root / "collect", root / "epoch", root / "evaluate")


@pytest.fixture(scope="module")
def stack(gates: Gates) -> Iterator[Stack]:
    """The module's gated stack, with training data."""
    with gated_stack(gates) as running, client_for(running) as client:
        seed_interactions(client)
        yield running


@pytest.fixture
def api(stack: Stack, gates: Gates) -> Iterator[ApiClient]:
    """A client of the module's stack; every gate is open again after the test."""
    with client_for(stack) as session:
        yield session
    gates.open_all()


def sweeps_after(stack: Stack, n: int) -> None:
    """Wait until the sweeper has held its seat n times more (each sweep renews it)."""
    redis, seen, last = stack.store.redis, [], [0]

    def swept() -> bool:
        ttl = redis.pttl(keys.SWEEPER)
        if ttl > last[0]:  # the seat's time went up since the last read: a sweep renewed it
            seen.append(ttl)
        last[0] = ttl
        return len(seen) > n

    wait_until(swept, 30.0, lambda: f"{n} sweeps\n{stack.logs()}", interval=0.05)


def test_a_pausing_job_whose_runner_died_with_its_messages_is_settled_paused_not_sent_again(
    api: ApiClient, stack: Stack, gates: Gates
) -> None:
    job_id = held_after_first_epoch(api, stack, gates, N_EPOCHS)
    assert pause(api, job_id)["status"] == contracts.PAUSING
    stack.kill("w1")  # kill -9 while it holds fine_tune between two epochs
    assert stack.store.redis.delete(PIPELINE_QUEUE, "unacked", "unacked_index") >= 1
    gates.epoch.touch()
    stack.proc("w1").restart()
    stack.wait_worker("w1")
    # Its lease lapses (TTL), then two sweeps see no lease and no message: paused.
    wait_job_status(api, stack, job_id, {contracts.PAUSED}, 30.0)
    wait_holds_nothing(stack, job_id)
    events = all_events(api, job_id)
    paused = [e["message"] for e in events if e["type"] == "job.paused"]
    assert paused == [
        "job paused: its runner was gone before it stopped (no lease and no message left)"
    ], paused
    assert "stage.redriven" not in {e["type"] for e in events}, events
    assert deliveries(stack, job_id)["fine_tune"] == 1, describe_job(stack, job_id)
    sweeps_after(stack, 2)  # a paused job is never sent again
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == contracts.PAUSED
    assert deliveries(stack, job_id)["fine_tune"] == 1

    resume(api, job_id)
    wait_for_job(api, stack, job_id, timeout=60.0)
    assert epochs_in(all_events(api, job_id)) == list(range(1, N_EPOCHS + 1))


def test_a_restart_of_every_process_while_paused_loses_nothing_and_resume_continues(
    api: ApiClient, stack: Stack, gates: Gates
) -> None:
    job_id = paused_after_second_epoch(api, stack, gates, N_EPOCHS)
    before = api.get(f"/v1/jobs/{job_id}").json()
    events = all_events(api, job_id)
    stack.kill("w1")
    stack.kill("gateway")
    stopped = time.monotonic()
    stack.stop_redis(signal.SIGKILL)  # appendfsync always: every answered write is on disk
    stack.start_redis()  # the same port and directory: it loads its append-only file
    stack.proc("gateway").restart()
    stack.proc("w1").restart()
    stack.wait_gateway()
    stack.wait_worker("w1")
    report_recovery("every process killed while paused -> all ready", time.monotonic() - stopped)
    sweeps_after(stack, 2)
    with client_for(stack) as again:
        assert again.get(f"/v1/jobs/{job_id}").json() == before, describe_job(stack, job_id)
        assert all_events(again, job_id) == events, describe_job(stack, job_id)
        assert stack.store.artifacts.get(job_id, training.POINTER)["epoch"] == 2
        assert stack.store.redis.ttl(keys.artifact(job_id, training.POINTER)) == -1
        wait_holds_nothing(stack, job_id)
        assert_frozen(again, stack, job_id, seconds=2 * SWEEP_INTERVAL)
        resume(again, job_id)
        asked_at = time.monotonic()
        wait_for_job(again, stack, job_id, timeout=60.0)
        report_recovery("restarted, resumed -> succeeded", time.monotonic() - asked_at)
        after = all_events(again, job_id)
    resumes = [e["message"] for e in after if e["message"].startswith("resuming fine-tuning")]
    assert resumes == ["resuming fine-tuning after epoch 2"], resumes
    assert epochs_in(after) == list(range(1, N_EPOCHS + 1))
