"""POST /v1/jobs/{id}/cancel: stages not started never run, fine-tuning stops at its next epoch.

One stack for the module, whose worker is slowed by failpoints: collect waits, after it took
its lease, until a gate file exists (a test shuts the gate to cancel a job with its first
stage in hand, however slow the machine), and each fine-tune epoch takes 0.3 s more.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tuneloop import contracts

from .support import (
    EPOCH_SLEEP,
    ApiClient,
    Stack,
    all_events,
    assert_problem,
    client_for,
    create_job,
    deliveries,
    describe_job,
    epochs_in,
    events_of,
    fault_stack,
    lease_holder,
    models_of,
    report_recovery,
    seed_interactions,
    stages_started,
    wait_for_epochs,
    wait_for_job,
    wait_until,
    worker_idle,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cancel_stack(collect_gate: Path) -> Iterator[Stack]:
    """A stack with one slowed worker and some training data."""
    failpoints = f"collect=gate:{collect_gate};epoch=sleep:{EPOCH_SLEEP:g}"
    with fault_stack(workers=[("w1", failpoints)]) as stack, client_for(stack) as client:
        seed_interactions(client)
        yield stack
        collect_gate.touch()  # a test that failed with the gate shut: let collect end


@pytest.fixture
def api(cancel_stack: Stack) -> Iterator[ApiClient]:
    """A client of the module's stack, with its key."""
    with client_for(cancel_stack) as session:
        yield session


def _post_cancel(api: ApiClient, job_id: str) -> requests.Response:
    """POST the cancel as a client does: no body and no content type."""
    return api.post(f"/v1/jobs/{job_id}/cancel")


def _cancel(api: ApiClient, job_id: str) -> dict:
    response = _post_cancel(api, job_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == job_id and body["status"] == contracts.CANCELLED, body
    assert body["finished_at"] is not None, body
    return body


def _wait_idle(stack: Stack, job_id: str) -> float:
    """Wait until no task is queued or held; return when that was reached (monotonic)."""
    wait_until(
        lambda: worker_idle(stack), 30.0, lambda: f"idle: {describe_job(stack, job_id)}", 0.05
    )
    return time.monotonic()


def test_cancelling_a_queued_job_answers_cancelled_and_no_stage_ever_starts(
    cancel_stack: Stack, api: ApiClient, collect_gate: Path
) -> None:
    stack = cancel_stack
    collect_gate.unlink()
    try:
        job_id = create_job(api, 3)
        # collect has taken its lease (and waits at its shut gate): it would start next.
        wait_until(
            lambda: lease_holder(stack, job_id, "collect"),
            30.0,
            lambda: f"collect to take its lease: {describe_job(stack, job_id)}",
            interval=0.02,
        )
        assert api.get(f"/v1/jobs/{job_id}").json()["status"] == contracts.QUEUED
        body = _cancel(api, job_id)
        assert body["started_at"] is None, body
        assert lease_holder(stack, job_id, "collect"), describe_job(stack, job_id)  # in hand
    finally:
        collect_gate.touch()
    opened_at = time.monotonic()
    settled_after = _wait_idle(stack, job_id) - opened_at
    report_recovery(
        "cancel of a queued job",
        settled_after,
        "gate opened after the cancel -> no task left (collect held its lease at the cancel)",
    )
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == contracts.CANCELLED and job["stage"] is None, job
    events = all_events(api, job_id)
    assert stages_started(events) == [], events
    assert [e["type"] for e in events] == ["job.cancelled"], events
    assert set(deliveries(stack, job_id)) == {"collect"}, deliveries(stack, job_id)
    assert job["progress"]["current"] == 0
    # Cancelling again: it has finished, as cancelled.
    again = assert_problem(_post_cancel(api, job_id), 409)
    assert "cancelled" in again["detail"], again


def test_cancelling_during_fine_tune_stops_it_at_the_next_epoch_and_saves_no_model(
    cancel_stack: Stack, api: ApiClient
) -> None:
    stack, n_epochs = cancel_stack, 20
    job_id = create_job(api, n_epochs)
    wait_for_epochs(stack, job_id, 3, timeout=30.0)
    _cancel(api, job_id)
    cancelled_at = time.monotonic()
    seen_at_cancel = len(
        epochs_in(events_of(stack, job_id))
    )  # read after the cancel: an upper bound

    wait_until(
        lambda: lease_holder(stack, job_id, "fine_tune") is None,
        60.0,
        lambda: f"fine_tune to stop: {describe_job(stack, job_id)}",
        interval=0.02,
    )
    stopped_after = time.monotonic() - cancelled_at
    _wait_idle(stack, job_id)
    report_recovery(
        "cancel during fine_tune",
        stopped_after,
        f"cancel -> fine_tune stopped and released its lease; epoch takes >= {EPOCH_SLEEP:g} s",
    )
    events = all_events(api, job_id)
    epochs = epochs_in(events)
    # At most the epoch that was running when the cancel came; then it stopped. The event
    # log is in write order: at most one epoch's event follows the job.cancelled event.
    assert epochs == list(range(1, len(epochs) + 1)), epochs
    assert len(epochs) <= seen_at_cancel + 1, (epochs, seen_at_cancel)
    cancelled = [e["type"] for e in events].index("job.cancelled")
    assert len(epochs_in(events[cancelled + 1 :])) <= 1, events[cancelled:]
    assert len(epochs) < n_epochs
    finished = [e["data"]["stage"] for e in events if e["type"] == "stage.finished"]
    assert "fine_tune" not in finished, finished
    assert not {"evaluate_fine_tuned", "compare"} & set(stages_started(events)), events
    assert models_of(api, job_id) == []
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == contracts.CANCELLED and job["model_id"] is None, job
    assert job["result"] is None
    model_id = f"ft-{job_id.removeprefix('ftjob-')[:12]}"
    assert_problem(api.get(f"/v1/models/{model_id}"), 404)
    assert "stopped, the job was cancelled" in stack.log_text("w1")


def test_cancelling_a_succeeded_job_answers_409_and_leaves_it_succeeded(
    cancel_stack: Stack, api: ApiClient
) -> None:
    job_id = create_job(api, 2)
    done = wait_for_job(api, cancel_stack, job_id, timeout=60.0)
    problem = assert_problem(_post_cancel(api, job_id), 409)
    assert "succeeded" in problem["detail"], problem
    after = api.get(f"/v1/jobs/{job_id}").json()
    assert after == done
    assert "job.cancelled" not in {e["type"] for e in all_events(api, job_id)}


def test_cancelling_an_unknown_job_answers_404(api: ApiClient) -> None:
    problem = assert_problem(_post_cancel(api, "ftjob-000000000000000000000000"), 404)
    assert "ftjob-000000000000000000000000" in problem["detail"], problem
