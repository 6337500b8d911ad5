"""DELETE /v1/models/{id} as OpenAI's models.delete, driven by the openai SDK (and what a job's
delete sends the llm worker).

A private redis-server of this module's own and the gateway app in this process, which the
SDK reaches through a WSGI transport (no worker runs: models are published as fine_tune
publishes them). Answers are validated with the SDK's own pydantic model.
"""

from collections.abc import Iterator

import httpx2
import openai
import pytest
from flask import Flask
from openai.types import ModelDeleted

from tuneloop import contracts
from tuneloop.agent import registry
from tuneloop.contracts import LATEST_PROMOTED
from tuneloop.llm import spec
from tuneloop.store import Store, keys

from .support import API_KEY, AppClient, Stack, assert_problem, gateway_app, private_stack
from .support.jobs import job_with_model

pytestmark = pytest.mark.integration

STAGE = "fine_tune"


@pytest.fixture(scope="module")
def redis_stack() -> Iterator[Stack]:
    """A private redis-server on a free port (no worker, no gunicorn)."""
    with private_stack("tuneloop-model-delete-") as stack:
        stack.start_redis(appendfsync=None)
        yield stack


@pytest.fixture
def store(redis_stack: Stack) -> Iterator[Store]:
    """A store on the module's Redis, emptied before each test; blobs in 1 KiB chunks."""
    store = Store.from_url(redis_stack.redis_url)
    store.redis.flushdb()
    store.blobs.chunk_bytes = 1024
    yield store
    store.redis.close()


@pytest.fixture
def app(redis_stack: Stack, store: Store) -> Iterator[Flask]:
    """The gateway app in this process on the module's Redis."""
    with gateway_app(redis_stack.env()) as app:
        yield app


@pytest.fixture
def sdk(app: Flask) -> Iterator[openai.OpenAI]:
    """The official client, reaching the app through WSGI, without retries."""
    transport = httpx2.Client(transport=httpx2.WSGITransport(app=app))
    with openai.OpenAI(
        base_url="http://gateway/v1", api_key=API_KEY, max_retries=0, http_client=transport
    ) as client:
        yield client


def running_job_with_model(store: Store) -> tuple[str, str]:
    """A running job that has published its model (5 KiB, in chunks), its stage's lease gone."""
    jid, mid = job_with_model(store, 5120)
    store.redis.delete(keys.lease(jid, STAGE))
    return jid, mid


def succeeded_job_with_model(store: Store, promoted: bool = False) -> tuple[str, str]:
    """A job that published its model and succeeded (its model promoted, when asked)."""
    jid, mid = running_job_with_model(store)
    alias = (LATEST_PROMOTED, {"model_id": mid, "job_id": jid}) if promoted else None
    assert store.jobs.succeed(jid, {"model_id": mid}, alias)
    return jid, mid


def model_keys(store: Store, mid: str) -> list[str]:
    """Every key whose name holds the model's id."""
    return sorted(store.redis.scan_iter(match=f"*{mid}*", count=1000))


def test_models_delete_answers_openais_model_deleted_and_leaves_none_of_its_keys(
    store: Store, sdk: openai.OpenAI
) -> None:
    jid, mid = succeeded_job_with_model(store)
    assert len(model_keys(store, mid)) == 2 + 5  # description, manifest, five chunks
    deleted = sdk.models.delete(mid)
    assert ModelDeleted.model_validate(deleted.model_dump()) == ModelDeleted(
        id=mid, object="model", deleted=True
    )
    assert model_keys(store, mid) == []
    assert mid not in {m.id for m in sdk.models.list()}
    assert store.jobs.get(jid)["model_id"] == mid  # the job stays, naming it (as OpenAI's)


def test_an_unknown_model_is_a_404_through_the_sdk(store: Store, sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.models.delete("ft-0123456789ab")


def test_a_model_an_alias_names_is_refused_naming_the_alias_and_kept(
    store: Store, sdk: openai.OpenAI
) -> None:
    _, mid = succeeded_job_with_model(store, promoted=True)
    with pytest.raises(openai.ConflictError) as refused:
        sdk.models.delete(mid)
    assert LATEST_PROMOTED in str(refused.value.body), refused.value.body
    assert sdk.models.retrieve(mid).id == mid
    assert len(model_keys(store, mid)) == 7


def test_a_model_whose_job_still_runs_is_refused_and_kept(store: Store, sdk: openai.OpenAI) -> None:
    jid, mid = running_job_with_model(store)  # published; evaluated and promoted next
    with pytest.raises(openai.ConflictError) as refused:
        sdk.models.delete(mid)
    assert "running" in str(refused.value.body), refused.value.body
    assert len(model_keys(store, mid)) == 7
    store.cancel_job(jid)  # a cancel withdraws it instead


def test_an_alias_is_not_a_model_to_delete(store: Store, app: Flask) -> None:
    succeeded_job_with_model(store, promoted=True)
    api = AppClient(app, API_KEY)
    body = assert_problem(api.request("DELETE", f"/v1/models/{LATEST_PROMOTED}"), 400)
    assert "is an alias, not a model" in body["detail"], body


def test_the_baseline_is_not_deleted(store: Store, sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        sdk.models.delete(contracts.BASELINE_MODEL_ID)


def test_deleting_a_language_model_job_has_the_llm_worker_delete_its_checkpoints(
    store: Store, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.BASE_MODELS, "tiny-chat", spec.FORMAT)
    sent: list[tuple] = []

    def send_task(name: str, args: tuple, **options: object) -> None:
        sent.append((name, args, options.get("queue")))

    monkeypatch.setattr(app.extensions["tuneloop"].celery, "send_task", send_task)
    llm = store.jobs.create({"model": "tiny-chat"}, 0, 7)["id"]
    stand_in = store.jobs.create({"model": contracts.BASELINE_MODEL_ID}, 0, 7)["id"]
    for jid in (llm, stand_in):
        store.jobs.fail(jid, STAGE, "test", "ended by the test")
        assert AppClient(app, API_KEY).request("DELETE", f"/v1/jobs/{jid}").status_code == 200
    assert sent == [(contracts.LLM_DELETE_FILES, (llm, f"jobs/{llm}"), spec.QUEUE)]
