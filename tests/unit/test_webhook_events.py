"""Webhook events: OpenAI's names, the end each job kind and status is, and their payloads."""

import pytest

from tuneloop import graph
from tuneloop.store import ids
from tuneloop.webhooks import events

JOB = {
    "id": "ftjob-" + "a" * 24,
    "object": "fine_tuning.job",
    "kind": graph.FINE_TUNING,
    "created_at": 100,
    "finished_at": 160,
    "model_id": None,
    "error": None,
    "result": None,
}


@pytest.mark.parametrize(
    ("kind", "status", "event_type"),
    [
        (graph.FINE_TUNING, "succeeded", "fine_tuning.job.succeeded"),
        (graph.FINE_TUNING, "failed", "fine_tuning.job.failed"),
        (graph.FINE_TUNING, "cancelled", "fine_tuning.job.cancelled"),
        (graph.EVALUATION, "succeeded", "eval.run.succeeded"),
        (graph.EVALUATION, "failed", "eval.run.failed"),
        (graph.EVALUATION, "cancelled", "eval.run.canceled"),  # OpenAI's spelling
    ],
)
def test_each_job_end_is_the_event_openai_names_it(kind: str, status: str, event_type: str) -> None:
    found = events.job_end({**JOB, "kind": kind, "status": status})
    assert found is not None and found[0] == event_type
    assert found[1]["id"] == JOB["id"] and found[1]["status"] == status
    assert event_type in events.EVENT_TYPES


@pytest.mark.parametrize("status", ["queued", "running"])
def test_a_job_that_has_not_ended_is_no_event(status: str) -> None:
    assert events.job_end({**JOB, "status": status}) is None


def test_a_failed_jobs_event_carries_its_error() -> None:
    error = {"code": "no_training_data", "message": "none kept", "stage": "filter"}
    _, data = events.job_end({**JOB, "status": "failed", "error": error})
    assert data["error"] == error and data["model_id"] is None and data["promoted"] is False


def test_a_promotion_is_told_only_when_the_gate_moved_the_alias() -> None:
    result = {
        "model_id": "ft-aaaaaaaaaaaa",
        "promotion": {"promoted": True, "alias": "latest-promoted"},
    }
    promoted = events.promotion({**JOB, "status": "succeeded", "result": result})
    assert promoted == {
        "id": "ft-aaaaaaaaaaaa",
        "object": "model",
        "alias": "latest-promoted",
        "job_id": JOB["id"],
        "promoted_at": 160,
    }
    _, data = events.job_end({**JOB, "status": "succeeded", "result": result})
    assert data["promoted"] is True and data["model_id"] == "ft-aaaaaaaaaaaa"
    kept_back = {**result, "promotion": {"promoted": False}}
    assert events.promotion({**JOB, "status": "succeeded", "result": kept_back}) is None
    assert events.promotion({**JOB, "status": "cancelled", "result": result}) is None


def test_an_endpoint_takes_the_types_it_names_or_every_type_with_a_star() -> None:
    assert events.subscribed(["model.promoted"], "model.promoted")
    assert not events.subscribed(["model.promoted"], "model.rolled_back")
    assert all(events.subscribed(["*"], t) for t in events.EVENT_TYPES)


def test_an_events_key_names_one_id_per_project() -> None:
    same = ids.event_for("default", "ftjob-x:fine_tuning.job.succeeded")
    assert same == ids.event_for("default", "ftjob-x:fine_tuning.job.succeeded")
    assert same != ids.event_for("team-a", "ftjob-x:fine_tuning.job.succeeded")
    assert same.startswith("evt_") and len(same) == len(ids.new_event())
    assert ids.new_event() != ids.new_event()


def test_the_payload_is_openais_event_shape() -> None:
    assert events.payload("evt_1", "model.promoted", 5, {"id": "ft-1"}) == {
        "id": "evt_1",
        "object": "event",
        "type": "model.promoted",
        "created_at": 5,
        "data": {"id": "ft-1"},
    }
