"""The latest-promoted alias: set with a job's success in one step, read by the models API.

A private redis-server of this module's own, the store and the gateway app in this process
(Flask's test client); no worker runs: the one test that asks a model for an answer stands
in for the worker at the gateway's Celery client and records what it was sent.
"""

from collections.abc import Iterator

import pytest
from flask import Flask

from tuneloop import contracts
from tuneloop.contracts import LATEST_PROMOTED
from tuneloop.pipeline.runner import Limits, finish
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.store import Store, keys

from .support import API_KEY, AppClient, Stack, assert_problem, gateway_app, private_stack
from .support.jobs import job_with_model

pytestmark = pytest.mark.integration

STAGE = "fine_tune"
PROMOTED = {"promoted": True, "alias": LATEST_PROMOTED, "checks": [], "reason": "passed"}
NOT_PROMOTED = {"promoted": False, "alias": None, "checks": [], "reason": "failed"}


@pytest.fixture(scope="module")
def redis_stack() -> Iterator[Stack]:
    """A private redis-server on a free port (no worker, no gunicorn)."""
    with private_stack("tuneloop-aliases-") as stack:
        stack.start_redis(appendfsync=None)
        yield stack


@pytest.fixture
def store(redis_stack: Stack) -> Iterator[Store]:
    """A store on the module's Redis, emptied before each test."""
    store = Store.from_url(redis_stack.redis_url)
    store.redis.flushdb()
    yield store
    store.redis.close()


@pytest.fixture
def app(redis_stack: Stack, store: Store) -> Iterator[Flask]:
    """The gateway app in this process on the module's Redis."""
    with gateway_app(redis_stack.env()) as app:
        yield app


@pytest.fixture
def api(app: Flask) -> AppClient:
    """Flask's test client of the app, with the tests' key."""
    return AppClient(app, API_KEY)


def promote(store: Store, jid: str, mid: str) -> bool:
    """End the job as succeeded with its model as the target of latest-promoted."""
    result = {"model_id": mid, "promotion": PROMOTED}
    return store.jobs.succeed(jid, result, (LATEST_PROMOTED, {"model_id": mid, "job_id": jid}))


def test_success_and_alias_are_written_together(store: Store) -> None:
    jid, mid = job_with_model(store)
    assert store.models.alias(LATEST_PROMOTED) is None
    assert promote(store, jid, mid) is True
    job = store.jobs.get(jid)
    assert job["status"] == contracts.SUCCEEDED
    assert store.models.alias(LATEST_PROMOTED) == {
        "model_id": mid,
        "job_id": jid,
        "promoted_at": job["finished_at"],
    }
    assert store.models.resolve(LATEST_PROMOTED) == mid
    assert store.models.resolve(mid) == mid
    assert store.models.resolve("ft-no-such-model") is None
    assert store.models.resolve(contracts.BASELINE_MODEL_ID) == contracts.BASELINE_MODEL_ID


def test_a_cancelled_job_sets_no_alias_and_leaves_the_last_one(store: Store) -> None:
    first, first_model = job_with_model(store)
    assert promote(store, first, first_model)
    late, late_model = job_with_model(store)
    assert store.cancel_job(late)
    assert promote(store, late, late_model) is False
    assert store.jobs.get(late)["status"] == contracts.CANCELLED
    assert store.models.alias(LATEST_PROMOTED)["model_id"] == first_model
    assert store.models.alias(LATEST_PROMOTED)["job_id"] == first


def test_finish_promotes_only_a_passing_job_and_needs_no_model_of_its_own(store: Store) -> None:
    failed_gate, failed_model = job_with_model(store)
    finish(store, failed_gate, {"model_id": failed_model, "promotion": NOT_PROMOTED}, Limits())
    assert store.jobs.get(failed_gate)["status"] == contracts.SUCCEEDED  # not a failed job
    assert store.models.alias(LATEST_PROMOTED) is None
    evaluation = store.jobs.create(JobInSchema().load({}), snapshot_seq=0, total_steps=1)["id"]
    finish(store, evaluation, {"baseline_metrics": {}}, Limits())  # no model_id at all
    assert store.jobs.get(evaluation)["status"] == contracts.SUCCEEDED
    passing, passing_model = job_with_model(store)
    finish(store, passing, {"model_id": passing_model, "promotion": PROMOTED}, Limits())
    assert store.models.alias(LATEST_PROMOTED)["model_id"] == passing_model


def test_latest_promoted_is_404_before_any_promotion(store: Store, api: AppClient) -> None:
    job_with_model(store)  # a model exists, none is promoted
    body = assert_problem(api.get(f"/v1/models/{LATEST_PROMOTED}"), 404)
    assert "no model is 'latest-promoted' yet" in body["detail"]
    asked = api.post(f"/v1/models/{LATEST_PROMOTED}/responses", json={"input": "hi"})
    assert_problem(asked, 404)


def test_latest_promoted_describes_its_target_and_the_listing_names_it(
    store: Store, api: AppClient
) -> None:
    _, other = job_with_model(store)
    jid, mid = job_with_model(store)
    promote(store, jid, mid)
    found = api.get(f"/v1/models/{LATEST_PROMOTED}")
    assert found.status_code == 200, found.text
    described = found.json()
    assert described["id"] == mid and described["job_id"] == jid
    finished_at = store.jobs.get(jid)["finished_at"]
    assert described["alias"] == {
        "name": LATEST_PROMOTED,
        "model_id": mid,
        "job_id": jid,
        "promoted_at": finished_at,
    }
    listed = {m["id"]: m["aliases"] for m in api.get("/v1/models").json()["data"]}
    assert listed[mid] == [LATEST_PROMOTED]
    assert listed[other] == [] and listed[contracts.BASELINE_MODEL_ID] == []
    assert api.get(f"/v1/models/{mid}").json()["aliases"] == [LATEST_PROMOTED]


def test_asking_latest_promoted_sends_the_worker_its_target(
    store: Store, app: Flask, api: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    jid, mid = job_with_model(store)
    promote(store, jid, mid)
    sent: list[tuple] = []

    def answer_as_the_worker(name: str, args: tuple, **options: object) -> None:
        sent.append((name, args[0]))
        store.replies.send(args[2], {"text": f"from {args[0]}", "confidence": 0.5})

    monkeypatch.setattr(app.extensions["tuneloop"].celery, "send_task", answer_as_the_worker)
    asked = api.post(f"/v1/models/{LATEST_PROMOTED}/responses", json={"input": "weather?"})
    assert asked.status_code == 200, asked.text
    assert sent == [(contracts.RESPOND, mid)]
    assert asked.json()["text"] == f"from {mid}"


def test_an_alias_whose_model_was_withdrawn_answers_404_naming_it(
    store: Store, api: AppClient
) -> None:
    jid, mid = job_with_model(store)
    promote(store, jid, mid)
    store.redis.delete(keys.model_meta(mid))  # gone under the alias (a delete refuses that)
    body = assert_problem(api.get(f"/v1/models/{LATEST_PROMOTED}"), 404)
    assert body["detail"] == (
        f"'latest-promoted' names model {mid!r} (promoted by job {jid}), which no longer exists"
    )
    assert store.models.resolve(LATEST_PROMOTED) is None  # an evaluation of it is a 422


def test_a_new_target_keeps_the_one_it_replaced_and_that_model_is_not_deleted(
    store: Store, api: AppClient
) -> None:
    first_job, first = job_with_model(store)
    second_job, second = job_with_model(store)
    assert promote(store, first_job, first) and promote(store, second_job, second)
    alias = store.models.alias(LATEST_PROMOTED)
    assert alias["model_id"] == second
    assert alias["previous"]["model_id"] == first and alias["previous"]["job_id"] == first_job
    # The model a rollback would return to is kept while the alias remembers it.
    refused = api.request("DELETE", f"/v1/models/{first}")
    assert refused.status_code == 409, refused.text
    assert "rolls back to" in refused.text
