"""The sweeper: a job whose messages were lost is sent again, or ends `stage_timed_out`.

Messages are lost here the blunt way: their Redis keys (kombu's queue list and unacked hash)
are deleted, as a Redis restarted without its append-only file, or one that refused the
next stage's message, would leave them. Workers sweep every second.
"""

import signal
import time

import pytest

from tuneloop import contracts
from tuneloop.celery_config import PIPELINE_QUEUE

from .support import (
    SLOW_EPOCHS,
    client_for,
    create_job,
    describe_job,
    events_of,
    fault_stack,
    holder_pid,
    lease_holder,
    report_recovery,
    seed_interactions,
    wait_ended,
    wait_for_epochs,
    wait_until,
)

pytestmark = pytest.mark.integration

SWEEP = {"TUNELOOP_SWEEP_INTERVAL": "1"}
N_EPOCHS = 12


def _lose_messages(stack) -> int:
    """Delete every message of the pipeline: queued, delivered and unacknowledged."""
    return stack.store.redis.delete(PIPELINE_QUEUE, "unacked", "unacked_index")


def test_a_queued_job_whose_message_was_lost_is_sent_again_and_succeeds() -> None:
    with fault_stack(workers=()) as stack, client_for(stack) as client:
        seed_interactions(client)
        job_id = create_job(client, 3)
        assert _lose_messages(stack) >= 1
        began = time.monotonic()
        stack.start_worker("w1", env=SWEEP)
        job = wait_ended(stack, job_id, 60.0)
        report_recovery("message of a queued job lost -> sent again, succeeded", _since(began))
        assert job["status"] == contracts.SUCCEEDED, describe_job(stack, job_id)
        redriven = [e for e in events_of(stack, job_id) if e["type"] == "stage.redriven"]
        assert len(redriven) == 1 and redriven[0]["data"]["stages"] == ["collect"], redriven


def test_a_job_whose_messages_were_lost_mid_fine_tune_resumes_and_succeeds() -> None:
    with fault_stack(workers=()) as stack, client_for(stack) as client:
        stack.start_worker("w1", SLOW_EPOCHS, env=SWEEP)
        seed_interactions(client)
        job_id = create_job(client, N_EPOCHS)
        wait_for_epochs(stack, job_id, 3)
        stack.kill("w1")  # its lease lapses after the lease TTL; no message is left
        assert _lose_messages(stack) >= 1
        began = time.monotonic()
        stack.start_worker("w2", env=SWEEP)
        job = wait_ended(stack, job_id, 60.0)
        report_recovery("messages lost mid fine-tune, worker killed -> resumed", _since(began))
        assert job["status"] == contracts.SUCCEEDED, describe_job(stack, job_id)
        events = events_of(stack, job_id)
        redriven = [e["data"]["stages"] for e in events if e["type"] == "stage.redriven"]
        # evaluate_baseline may still be pending too: it runs beside fine_tune.
        assert len(redriven) == 1 and "fine_tune" in redriven[0], redriven
        assert any(e["message"].startswith("resuming fine-tuning") for e in events), events


def test_a_stage_sent_again_too_often_ends_the_job_stage_timed_out() -> None:
    with fault_stack(workers=()) as stack, client_for(stack) as client:
        seed_interactions(client)
        job_id = create_job(client, 3)
        _lose_messages(stack)
        stack.start_worker("w1", env={**SWEEP, "TUNELOOP_MAX_REDRIVES": "0"})
        job = wait_ended(stack, job_id, 60.0)
        assert job["status"] == contracts.FAILED, describe_job(stack, job_id)
        assert job["error"]["code"] == "stage_timed_out", job["error"]
        assert job["error"]["stage"] == "collect", job["error"]


def test_a_hung_worker_is_fenced_off_and_its_job_is_not_sent_again() -> None:
    """SIGSTOP a worker mid fine-tune until another takes the stage over, then SIGCONT it."""
    with fault_stack(workers=()) as stack, client_for(stack) as client:
        hung = stack.start_worker("w1", SLOW_EPOCHS, env=SWEEP)
        seed_interactions(client)
        job_id = create_job(client, 5 * N_EPOCHS)  # long enough to start w2 mid fine-tune
        wait_for_epochs(stack, job_id, 2)
        stack.start_worker("w2", SLOW_EPOCHS, env=SWEEP)
        hung.signal(signal.SIGSTOP)
        began = time.monotonic()
        try:
            # Its lease lapses, then its unacknowledged message goes back to the queue.
            wait_until(
                lambda: (
                    stack.worker_of(holder_pid(lease_holder(stack, job_id, "fine_tune") or "|0|"))
                    == "w2"
                ),
                60.0,
                lambda: f"w2 to take fine_tune over: {describe_job(stack, job_id)}",
                interval=0.2,
            )
            taken_over = time.monotonic() - began
        finally:
            hung.signal(signal.SIGCONT)
        job = wait_ended(stack, job_id, 90.0)
        report_recovery("worker SIGSTOPped mid fine-tune -> w2 holds the stage", taken_over)
        assert job["status"] == contracts.SUCCEEDED, describe_job(stack, job_id)
        wait_until(
            lambda: "lost its lease; stopping here" in stack.log_text("w1"),
            30.0,
            lambda: f"w1 to stop its stale fine_tune at its next epoch\n{stack.logs()}",
        )
        published = [m["id"] for m in stack.store.models.list() if m["job_id"] == job_id]
        assert published == [job["model_id"]], published
        assert stack.store.jobs.get(job_id)["model_id"] == job["model_id"]
        events = events_of(stack, job_id)
        # While w1 was stopped, its message was unacknowledged, then queued: never orphaned.
        assert not [e for e in events if e["type"] == "stage.redriven"], events


def _since(began: float) -> float:
    return time.monotonic() - began
