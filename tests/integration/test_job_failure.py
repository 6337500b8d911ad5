"""A job whose filter keeps nothing ends failed in filter, and no later stage runs."""

import pytest

from .support import (
    STAGES,
    ApiClient,
    Stack,
    all_events,
    assert_problem,
    wait_for_job,
    wait_worker_idle,
)

pytestmark = pytest.mark.integration

REQUEST = {
    "include_synthetic": False,
    "task_types": ["no-such-task"],
    "hyperparameters": {"n_epochs": 3},
}


@pytest.fixture(scope="module")
def failed_job(client: ApiClient, stack: Stack) -> dict:
    """A job over at least one stored interaction, none of the selected task type."""
    seed = client.post(
        "/v1/interactions",
        json={"input": "Is this kept?", "output": "No.", "rating": 1.0, "task_type": "other"},
    )
    assert seed.status_code == 201, seed.text
    created = client.post("/v1/jobs", json=REQUEST)
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    job = wait_for_job(client, stack, job_id, expect="failed")
    wait_worker_idle(stack)  # the chain would have sent any later stage by now
    return job


def test_a_job_whose_filter_keeps_nothing_fails_with_no_training_data_in_filter(
    failed_job: dict,
) -> None:
    assert failed_job["status"] == "failed"
    assert failed_job["stage"] == "filter"
    assert failed_job["error"]["code"] == "no_training_data"
    assert failed_job["error"]["stage"] == "filter"
    assert "no example passed the filter" in failed_job["error"]["message"]
    assert failed_job["result"] is None
    assert failed_job["model_id"] is None
    assert failed_job["finished_at"] >= failed_job["created_at"]
    # Only collect completed: one step of the 8 stages and 3 epochs.
    assert failed_job["progress"] == {"current": 1, "total": 11, "percent": 9.1}


def test_a_job_that_ran_a_stage_reports_when_it_started(failed_job: dict) -> None:
    assert failed_job["started_at"] is not None
    assert failed_job["created_at"] <= failed_job["started_at"] <= failed_job["finished_at"]


def test_a_failed_job_records_why_and_runs_no_stage_after_filter(
    client: ApiClient, failed_job: dict
) -> None:
    events = all_events(client, failed_job["id"])
    started = [e["data"]["stage"] for e in events if e["type"] == "stage.started"]
    finished = [e["data"]["stage"] for e in events if e["type"] == "stage.finished"]
    assert started == ["collect", "filter"], events
    assert finished == ["collect"], events
    later = set(STAGES[STAGES.index("filter") + 1 :])
    assert not later & {e["data"].get("stage") for e in events}, events
    assert not [e for e in events if e["type"] == "metrics"], events
    failures = [e for e in events if e["type"] == "job.failed"]
    assert len(failures) == 1, events
    assert failures[0]["level"] == "error"
    assert failures[0]["data"] == {"stage": "filter", "code": "no_training_data"}
    counts = [e for e in events if e["type"] == "message" and "kept" in e["data"]]
    assert counts and counts[0]["data"]["kept"] == 0, events
    assert counts[0]["data"]["dropped"].get("task_type_not_selected", 0) >= 1, events


def test_a_failed_job_creates_no_model_and_no_training_file(
    client: ApiClient, failed_job: dict
) -> None:
    models = client.get("/v1/models")
    assert models.status_code == 200, models.text
    assert [m for m in models.json()["data"] if m["job_id"] == failed_job["id"]] == []
    training_file = client.get(f"/v1/jobs/{failed_job['id']}/training_file")
    assert_problem(training_file, 409)


def test_a_failed_job_is_listed_under_the_failed_status(
    client: ApiClient, failed_job: dict
) -> None:
    failed = client.get("/v1/jobs", params={"status": "failed", "limit": 100}).json()
    assert failed_job["id"] in [j["id"] for j in failed["data"]]
    assert {j["status"] for j in failed["data"]} == {"failed"}
    succeeded = client.get("/v1/jobs", params={"status": "succeeded", "limit": 100}).json()
    assert failed_job["id"] not in [j["id"] for j in succeeded["data"]]
