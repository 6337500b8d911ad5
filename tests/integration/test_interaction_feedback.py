"""Feedback after the fact: read, edit, score and delete one interaction through the API.

Most requests go to the gateway app in this process (Flask's test client) on the session's
redis-server and worker; a module-own app holds one key per scope for the scope checks.
"""

import secrets
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask

from tuneloop.store.interactions import MAX_EVENTS

from .support import (
    API_KEY,
    AppClient,
    Stack,
    assert_problem,
    gateway_app,
    wait_for_job,
    wait_worker_idle,
)

pytestmark = pytest.mark.integration

INGEST_KEY = f"feedback-ingest-{secrets.token_hex(16)}"
JOBS_KEY = f"feedback-jobs-{secrets.token_hex(16)}"


def item(text: str, rating: float = 0.9, task: str = "weather") -> dict:
    return {"input": text, "output": f"answer to {text}", "rating": rating, "task_type": task}


@pytest.fixture
def created(app_client: AppClient) -> dict:
    """One fresh interaction."""
    response = app_client.post("/v1/interactions", json=item(f"Feedback {uuid.uuid4().hex}?"))
    assert response.status_code == 201, response.text
    return response.json()


def url(iid: str, tail: str = "") -> str:
    return f"/v1/interactions/{iid}{tail}"


def stats(client: AppClient) -> dict:
    response = client.get("/v1/interactions/stats")
    assert response.status_code == 200, response.text
    return response.json()


def test_get_answers_the_interaction_with_its_scores_and_edit_time(
    app_client: AppClient, created: dict
) -> None:
    response = app_client.get(url(created["id"]))
    assert response.status_code == 200, response.text
    assert response.json() == {**created, "scores": [], "updated_at": None}


def test_patch_changes_the_fields_and_records_who_did_it(
    app_client: AppClient, created: dict
) -> None:
    body = {"rating": 0.25, "task_type": "travel", "metadata": {"reviewed": True}}
    response = app_client.request("PATCH", url(created["id"]), json=body)
    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in body} == body
    assert response.json()["updated_at"] >= created["created_at"]
    assert app_client.get(url(created["id"])).json() == response.json()
    events = app_client.get(url(created["id"], "/events")).json()
    assert events["has_more"] is False
    (event,) = events["data"]
    assert event["type"] == "interaction.updated" and event["actor"] == "default"
    assert event["changes"]["rating"] == {"before": 0.9, "after": 0.25}
    assert event["changes"]["task_type"] == {"before": "weather", "after": "travel"}
    assert event["changes"]["metadata"] == {"before": {}, "after": {"reviewed": True}}


def test_stats_follow_patches_and_deletes(app_client: AppClient) -> None:
    task = f"feedback-{uuid.uuid4().hex[:8]}"
    a = app_client.post("/v1/interactions", json=item("Stats a?", 0.95, task)).json()
    b = app_client.post("/v1/interactions", json=item("Stats b?", 0.95, task)).json()
    before = stats(app_client)
    assert app_client.request("PATCH", url(a["id"]), json={"rating": 0.05}).status_code == 200
    assert app_client.request("DELETE", url(b["id"])).status_code == 200
    after = stats(app_client)
    assert after["count"] == before["count"] - 1
    assert after["task_distribution"].get(task) == 1
    delta = {
        k: after["rating_histogram"].get(k, 0) - before["rating_histogram"].get(k, 0)
        for k in ("0.0-0.1", "0.9-1.0")
    }
    assert delta == {"0.0-0.1": 1, "0.9-1.0": -2}
    assert app_client.request("DELETE", url(a["id"])).status_code == 200
    assert task not in stats(app_client)["task_distribution"]


def test_delete_hides_the_interaction_and_keeps_its_audit_trail(
    app_client: AppClient, created: dict
) -> None:
    response = app_client.request("DELETE", url(created["id"]))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": created["id"],
        "object": "interaction.deleted",
        "deleted": True,
    }
    for method in ("GET", "PATCH", "DELETE"):
        body = {"rating": 0.5} if method == "PATCH" else None
        problem = assert_problem(app_client.request(method, url(created["id"]), json=body), 404)
        assert created["id"] in problem["detail"]
    listed = app_client.get("/v1/interactions", params={"limit": 1000}).json()["data"]
    assert created["id"] not in {r["id"] for r in listed}
    events = app_client.get(url(created["id"], "/events")).json()["data"]
    assert [e["type"] for e in events] == ["interaction.deleted"]


def test_delete_drops_every_value_from_the_audit_trail_keeping_who_what_and_when(
    app_client: AppClient, created: dict
) -> None:
    secret = f"card {uuid.uuid4().hex}"
    iid = created["id"]
    patched = app_client.request("PATCH", url(iid), json={"metadata": {"note": secret}})
    assert patched.status_code == 200, patched.text
    score = {"name": "helpful", "value": 0.5, "source": "human", "comment": secret}
    assert app_client.post(url(iid, "/scores"), json=score).status_code == 201
    before = app_client.get(url(iid, "/events")).json()["data"]
    assert secret in str(before)  # the trail shows the values while the interaction lives
    assert app_client.request("DELETE", url(iid)).status_code == 200
    after = app_client.get(url(iid, "/events")).json()["data"]
    assert secret not in str(after) and created["input"] not in str(after)
    assert [(e["id"], e["type"], e["actor"], e["created_at"]) for e in after[:2]] == [
        (e["id"], e["type"], e["actor"], e["created_at"]) for e in before
    ]
    assert [e["changes"] for e in after] == [
        {"metadata": {}},
        {"scores": {}},
        {},
    ]


@pytest.mark.parametrize(
    ("method", "tail", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"rating": 0.5}),
        ("DELETE", "", None),
        ("POST", "/scores", {"name": "helpful", "value": 0.5, "source": "human"}),
        ("GET", "/events", None),
    ],
)
def test_a_missing_interaction_is_404_naming_its_id(
    app_client: AppClient, method: str, tail: str, body: dict | None
) -> None:
    problem = assert_problem(app_client.request(method, url("int_nope", tail), json=body), 404)
    assert "int_nope" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"rating": 1.5}, "rating"),
        ({"rating": "0.5"}, "rating"),
        ({"rating": None}, "rating"),
        ({"task_type": "ends with a space "}, "task_type"),
        ({"metadata": "text"}, "metadata"),
        ({"input": "inputs are not editable"}, "input"),
        ({"rating": 0.5, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_patch_is_422_naming_the_field_and_changes_nothing(
    app_client: AppClient, created: dict, body: dict, field: str
) -> None:
    assert_problem(app_client.request("PATCH", url(created["id"]), json=body), 422, [field])
    assert app_client.get(url(created["id"])).json()["updated_at"] is None
    assert app_client.get(url(created["id"], "/events")).json()["data"] == []


def test_a_score_is_added_and_a_new_value_of_its_name_replaces_it(
    app_client: AppClient, created: dict
) -> None:
    first = {"name": "helpful", "value": 0.4, "source": "evaluator", "comment": "meh"}
    response = app_client.post(url(created["id"], "/scores"), json=first)
    assert response.status_code == 201, response.text
    (score,) = response.json()["scores"]
    assert {k: score[k] for k in first} == first and score["created_at"] > 0
    second = {"name": "helpful", "value": 0.9, "source": "human"}
    scores = app_client.post(url(created["id"], "/scores"), json=second).json()["scores"]
    assert [(s["name"], s["value"], s["comment"]) for s in scores] == [("helpful", 0.9, None)]
    other = {"name": "concise", "value": 1, "source": "app"}
    scores = app_client.post(url(created["id"], "/scores"), json=other).json()["scores"]
    assert [s["name"] for s in scores] == ["helpful", "concise"]
    events = app_client.get(url(created["id"], "/events")).json()["data"]
    assert [e["type"] for e in events] == ["interaction.scored"] * 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": 0.5, "source": "human"}, "name"),
        ({"name": "rating", "value": 0.5, "source": "human"}, "name"),
        ({"name": "a b", "value": 0.5, "source": "human"}, "name"),
        ({"name": "x", "value": 1.01, "source": "human"}, "value"),
        ({"name": "x", "value": True, "source": "human"}, "value"),
        ({"name": "x", "value": 0.5}, "source"),
        ({"name": "x", "value": 0.5, "source": "robot"}, "source"),
        ({"name": "x", "value": 0.5, "source": "app", "comment": ""}, "comment"),
        ({"name": "x", "value": 0.5, "source": "app", "id": "mine"}, "id"),
    ],
)
def test_a_bad_score_is_422_naming_the_field_and_stores_nothing(
    app_client: AppClient, created: dict, body: dict, field: str
) -> None:
    assert_problem(app_client.post(url(created["id"], "/scores"), json=body), 422, [field])
    assert app_client.get(url(created["id"])).json()["scores"] == []


def test_score_names_are_bounded_per_interaction(app_client: AppClient, created: dict) -> None:
    for n in range(20):
        body = {"name": f"s{n}", "value": 0.5, "source": "app"}
        assert app_client.post(url(created["id"], "/scores"), json=body).status_code == 201
    body = {"name": "s20", "value": 0.5, "source": "app"}
    assert_problem(app_client.post(url(created["id"], "/scores"), json=body), 422, ["name"])
    body = {"name": "s3", "value": 0.7, "source": "app"}  # a known name may still change
    assert app_client.post(url(created["id"], "/scores"), json=body).status_code == 201


def test_the_audit_trail_is_bounded_and_paged(app_client: AppClient, created: dict) -> None:
    for n in range(MAX_EVENTS + 3):
        patch = app_client.request("PATCH", url(created["id"]), json={"rating": n / 1000})
        assert patch.status_code == 200
    first = app_client.get(url(created["id"], "/events"), params={"limit": 60}).json()
    assert len(first["data"]) == 60 and first["has_more"] is True
    rest = app_client.get(
        url(created["id"], "/events"), params={"after": first["data"][-1]["id"], "limit": 1000}
    ).json()
    assert len(rest["data"]) == MAX_EVENTS - 60 and rest["has_more"] is False
    assert rest["data"][-1]["changes"]["rating"]["after"] == (MAX_EVENTS + 2) / 1000


@pytest.mark.parametrize(
    ("method", "tail", "body"),
    [
        ("PATCH", "", {"rating": 0.3}),
        ("DELETE", "", None),
        ("POST", "/scores", {"name": "helpful", "value": 0.5, "source": "human"}),
    ],
)
def test_a_retried_change_with_its_idempotency_key_is_replayed_not_repeated(
    app_client: AppClient, created: dict, method: str, tail: str, body: dict | None
) -> None:
    headers = {"Idempotency-Key": f"feedback-{uuid.uuid4()}"}
    first = app_client.request(method, url(created["id"], tail), json=body, headers=headers)
    assert 200 <= first.status_code < 300, first.text
    again = app_client.request(method, url(created["id"], tail), json=body, headers=headers)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    events = app_client.get(url(created["id"], "/events")).json()["data"]
    assert len(events) == 1, events
    other = {"rating": 0.31} if method == "PATCH" else {**(body or {}), "value": 0.6}
    if method != "DELETE":
        changed = app_client.request(method, url(created["id"], tail), json=other, headers=headers)
        assert_problem(changed, 422, ["Idempotency-Key"])


@pytest.fixture(scope="module")
def keyed(stack: Stack) -> Iterator[Flask]:
    """A gateway app with an ingest-only and a jobs-only key."""
    spec = f"feedback-ingest:{INGEST_KEY}:ingest,feedback-jobs:{JOBS_KEY}:jobs"
    with gateway_app(stack.env(TUNELOOP_API_KEYS=spec)) as app:
        yield app


@pytest.mark.parametrize(
    ("method", "tail", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"rating": 0.3}),
        ("POST", "/scores", {"name": "helpful", "value": 0.5, "source": "human"}),
        ("GET", "/events", None),
        ("DELETE", "", None),
    ],
)
def test_changes_need_the_ingest_scope(
    keyed: Flask, created: dict, method: str, tail: str, body: dict | None
) -> None:
    jobs_only, ingest = AppClient(keyed, JOBS_KEY), AppClient(keyed, INGEST_KEY)
    problem = assert_problem(jobs_only.request(method, url(created["id"], tail), json=body), 403)
    assert "'ingest'" in problem["detail"] and "feedback-jobs" in problem["detail"]
    assert ingest.get(url(created["id"], "/events")).json()["data"] == []  # nothing changed
    allowed = ingest.request(method, url(created["id"], tail), json=body)
    assert 200 <= allowed.status_code < 300, allowed.text
    if method != "GET":
        events = ingest.get(url(created["id"], "/events")).json()["data"]
        assert events[-1]["actor"] == "feedback-ingest"


def test_a_job_with_a_score_name_keeps_rows_by_that_score_and_drops_rows_without_it(
    app_client: AppClient, stack: Stack
) -> None:
    run = uuid.uuid4().hex[:8]
    tasks = [f"scored-{run}-a", f"scored-{run}-b"]
    items = [
        item(
            f"Scored question {n} of {run} about {'rain' if n % 2 else 'trains'}?",
            0.9,
            tasks[n % 2],
        )
        for n in range(12)
    ]
    ids = app_client.post("/v1/interactions/batch", json={"items": items}).json()["ids"]
    for n, iid in enumerate(ids[:9]):  # 9 scored: 6 high, 3 low; 3 without the score
        value = 0.2 if n < 3 else 0.9
        body = {"name": f"helpful-{run}", "value": value, "source": "evaluator"}
        assert app_client.post(url(iid, "/scores"), json=body).status_code == 201
    request = {
        "score_name": f"helpful-{run}",
        "min_score": 0.5,
        "task_types": tasks,
        "include_synthetic": False,
        "lab_eval_set": True,
        "hyperparameters": {"n_epochs": 1},
    }
    created = app_client.post("/v1/jobs", json=request)
    assert created.status_code == 202, created.text
    assert created.json()["request"]["score_name"] == f"helpful-{run}"
    job = wait_for_job(app_client, stack, created.json()["id"])
    data = job["result"]["training_data"]
    # The score is judged before the task type: every other row of the store lacks it too.
    assert data["dropped"]["below_min_score"] == 3
    assert data["dropped"]["no_score"] == stats(app_client)["count"] - 9
    assert data["total_examples"] + data["validation_examples"] == 6
    wait_worker_idle(stack)


def test_a_bad_score_name_in_a_job_is_422(app_client: AppClient) -> None:
    response = app_client.post("/v1/jobs", json={"score_name": "no spaces"})
    assert_problem(response, 422, ["score_name"])


def test_the_key_in_the_audit_trail_is_never_the_secret(app_client: AppClient, created: dict):
    app_client.request("PATCH", url(created["id"]), json={"rating": 0.1})
    assert API_KEY not in app_client.get(url(created["id"], "/events")).text
