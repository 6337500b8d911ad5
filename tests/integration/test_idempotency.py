"""Idempotency-Key: concurrent duplicates make one record or job and all get one answer.

The concurrency tests run against a gateway of this module's own with several gunicorn
gevent workers, each serving many connections at once (so duplicates really run at the same
time), on the session's redis-server and worker. "Enqueued once" is counted on the broker
(support.SentMessages): the messages sent from outside any task, i.e. by the gateway.
"""

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask import Flask

from tuneloop.settings import Settings
from tuneloop.store import keys
from tuneloop_gateway import idempotency
from tuneloop_gateway.app import create_app

from .support import (
    ApiClient,
    AppClient,
    SentMessages,
    Stack,
    assert_problem,
    extra_gateway,
    gateway_app,
    wait_for_job,
    wait_until,
)

pytestmark = pytest.mark.integration

CONCURRENT = 50
OWNER_A, OWNER_B = "idem-owner-a", "idem-owner-b"
SCOPE_A = f"default:{OWNER_A}"  # the idempotency scope: project, then key name
KEY_A = f"idem-a-{secrets.token_hex(16)}"
KEY_B = f"idem-b-{secrets.token_hex(16)}"
KEYS_SPEC = f"{OWNER_A}:{KEY_A}:ingest+jobs,{OWNER_B}:{KEY_B}:ingest+jobs"
# A job that ends at once: it selects a task type no interaction has.
QUICK_JOB = {"hyperparameters": {"n_epochs": 1}, "task_types": ["idempotency-never-runs"]}


def item(**changes: object) -> dict:
    return {
        "input": "Is this stored once?",
        "output": "Exactly once.",
        "rating": 0.9,
        "task_type": "idempotency",
        **changes,
    }


def new_key() -> str:
    return f"idem-{uuid.uuid4()}"


@pytest.fixture(scope="module")
def gateway(stack: Stack) -> Iterator[str]:
    """Three gevent workers: duplicates run at the same time in and across processes."""
    env = {"TUNELOOP_API_KEYS": KEYS_SPEC, "WEB_CONCURRENCY": "3"}
    with extra_gateway(stack, "idempotency", env) as url:
        yield url


@pytest.fixture(scope="module")
def client_a(gateway: str) -> Iterator[ApiClient]:
    with ApiClient(gateway, KEY_A) as session:
        yield session


@pytest.fixture(scope="module")
def client_b(gateway: str) -> Iterator[ApiClient]:
    with ApiClient(gateway, KEY_B) as session:
        yield session


@pytest.fixture
def counts(stack: Stack, sent: SentMessages) -> Callable[[], dict[str, int]]:
    """Read the stored interactions and jobs, and the messages the gateways sent."""

    def read() -> dict[str, int]:
        store = stack.store
        return {
            "interactions": store.interactions.count(),
            "jobs": store.jobs.count(),
            "messages": sent.sent_from_outside(),
        }

    return read


def post_concurrently(
    gateway: str, api_key: str, path: str, body: dict, key: str, n: int = CONCURRENT
) -> list[requests.Response]:
    """Send n identical POSTs at the same moment, each on its own connection."""
    start = threading.Barrier(n, timeout=30)

    def send(_: int) -> requests.Response:
        with ApiClient(gateway, api_key) as session:
            start.wait()
            return session.post(path, json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(send, range(n)))


def assert_one_answer(responses: list[requests.Response], status: int) -> dict:
    """Every response has status and the same body; exactly one is not a replay."""
    statuses = [r.status_code for r in responses]
    assert statuses == [status] * len(responses), [(r.status_code, r.text[:200]) for r in responses]
    bodies = {r.content for r in responses}
    assert len(bodies) == 1, f"{len(bodies)} different bodies"
    replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
    assert replayed.count(None) == 1, replayed
    assert replayed.count("true") == len(responses) - 1, replayed
    return responses[0].json()


def test_50_concurrent_posts_of_one_interaction_store_it_once_and_answer_alike(
    gateway: str, counts: Callable[[], dict[str, int]], stack: Stack
) -> None:
    before = counts()
    responses = post_concurrently(gateway, KEY_A, "/v1/interactions", item(), new_key())
    record = assert_one_answer(responses, 201)
    assert counts() == {**before, "interactions": before["interactions"] + 1}
    assert stack.store.interactions.get_many([record["id"]])[0]["id"] == record["id"]


def test_50_concurrent_posts_of_one_batch_store_it_once_and_answer_alike(
    gateway: str, counts: Callable[[], dict[str, int]]
) -> None:
    before = counts()
    batch = {"items": [item(input=f"Batch question {i}") for i in range(3)]}
    responses = post_concurrently(gateway, KEY_A, "/v1/interactions/batch", batch, new_key())
    created = assert_one_answer(responses, 201)
    assert created["count"] == 3
    assert counts() == {**before, "interactions": before["interactions"] + 3}


def test_50_concurrent_job_posts_create_and_enqueue_one_job(
    gateway: str, counts: Callable[[], dict[str, int]], client_a: ApiClient, stack: Stack
) -> None:
    before = counts()
    key = new_key()
    responses = post_concurrently(gateway, KEY_A, "/v1/jobs", QUICK_JOB, key)
    job = assert_one_answer(responses, 202)
    assert {r.headers["Location"] for r in responses} == {f"/v1/jobs/{job['id']}"}
    after = counts()
    assert after["jobs"] == before["jobs"] + 1
    assert after["messages"] == before["messages"] + 1, "the job was enqueued more than once"
    # Long after the job ended, the same request still gets the very first answer.
    wait_for_job(client_a, stack, job["id"], expect="failed")
    again = client_a.post("/v1/jobs", json=QUICK_JOB, headers={"Idempotency-Key": key})
    assert (again.status_code, again.content) == (202, responses[0].content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert counts()["jobs"] == after["jobs"]


def test_the_same_key_with_a_different_body_gets_422_naming_the_conflict(
    counts: Callable[[], dict[str, int]], client_a: ApiClient
) -> None:
    key = new_key()
    first = client_a.post("/v1/interactions", json=item(), headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    before = counts()
    for body in (item(rating=0.8), item(metadata={"retry": True})):
        response = client_a.post("/v1/interactions", json=body, headers={"Idempotency-Key": key})
        problem = assert_problem(response, 422, ["Idempotency-Key"])
        assert key in problem["detail"] and "different request" in problem["detail"]
        assert "Idempotent-Replayed" not in response.headers
    # The same key on another endpoint is a different request too.
    other = client_a.post(
        "/v1/interactions/batch", json={"items": [item()]}, headers={"Idempotency-Key": key}
    )
    assert_problem(other, 422, ["Idempotency-Key"])
    assert counts() == before


def test_formatting_key_order_and_sent_defaults_do_not_make_a_different_request(
    client_a: ApiClient,
) -> None:
    key = new_key()
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    body = '{"rating": 0.9, "task_type": "idempotency", "input": "Same?", "output": "Yes."}'
    first = client_a.post("/v1/interactions", data=body, headers=headers)
    assert first.status_code == 201, first.text
    same = (
        '{ "input":"Same?","output":"Yes.", "rating":0.90,'
        ' "task_type":"idempotency", "source": "human" }'
    )
    again = client_a.post("/v1/interactions", data=same, headers=headers)
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"


def test_two_key_owners_with_the_same_idempotency_key_do_not_collide(
    counts: Callable[[], dict[str, int]], client_a: ApiClient, client_b: ApiClient
) -> None:
    before = counts()
    key = new_key()
    a = client_a.post("/v1/interactions", json=item(), headers={"Idempotency-Key": key})
    b = client_b.post("/v1/interactions", json=item(), headers={"Idempotency-Key": key})
    assert (a.status_code, b.status_code) == (201, 201), (a.text, b.text)
    assert a.json()["id"] != b.json()["id"]
    assert "Idempotent-Replayed" not in a.headers and "Idempotent-Replayed" not in b.headers
    assert counts()["interactions"] == before["interactions"] + 2
    # Each owner's retry replays its own answer.
    b_again = client_b.post("/v1/interactions", json=item(), headers={"Idempotency-Key": key})
    assert b_again.content == b.content and b_again.headers["Idempotent-Replayed"] == "true"


def test_posts_without_the_header_are_not_deduplicated(
    counts: Callable[[], dict[str, int]], client_a: ApiClient
) -> None:
    before = counts()
    ids = {client_a.post("/v1/interactions", json=item()).json()["id"] for _ in range(3)}
    assert len(ids) == 3
    assert counts()["interactions"] == before["interactions"] + 3


@pytest.mark.parametrize(
    "key",
    ["", "with space", "x" * 256, "caf\u00e9", "tab\tinside"],
    ids=["empty", "space", "256 characters", "not ASCII", "tab"],
)
def test_a_malformed_idempotency_key_gets_400_and_stores_nothing(
    counts: Callable[[], dict[str, int]], client_a: ApiClient, key: str
) -> None:
    before = counts()
    for path, body in (("/v1/interactions", item()), ("/v1/jobs", QUICK_JOB)):
        response = client_a.post(path, json=body, headers={"Idempotency-Key": key})
        problem = assert_problem(response, 400, ["Idempotency-Key"])
        assert "visible ASCII" in problem["detail"]
    assert counts() == before


def test_a_key_of_255_visible_characters_is_accepted(client_a: ApiClient) -> None:
    key = ("!~" + uuid.uuid4().hex + "x" * 255)[:255]
    first = client_a.post("/v1/interactions", json=item(), headers={"Idempotency-Key": key})
    again = client_a.post("/v1/interactions", json=item(), headers={"Idempotency-Key": key})
    assert (first.status_code, again.status_code) == (201, 201), first.text
    assert first.content == again.content


@pytest.fixture(scope="module")
def short_lived(stack: Stack) -> Iterator[Flask]:
    """A gateway app (in this process) that keeps idempotency keys for one second."""
    env = {"TUNELOOP_API_KEYS": KEYS_SPEC, "TUNELOOP_IDEMPOTENCY_TTL": "1"}
    with gateway_app(stack.env(**env)) as app:
        yield app


def test_after_the_key_expires_the_same_request_makes_a_new_record(
    short_lived: Flask, counts: Callable[[], dict[str, int]], stack: Stack
) -> None:
    key = new_key()
    before = counts()
    with AppClient(short_lived, KEY_A) as client:
        first = client.post("/v1/interactions", json=item(), headers={"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        redis = stack.store.redis
        ttl = redis.ttl(keys.idempotency(SCOPE_A, key))
        assert 0 <= ttl <= 1, ttl
        wait_until(
            lambda: not redis.exists(keys.idempotency(SCOPE_A, key)),
            10.0,
            lambda: "the idempotency key to expire",
        )
        later = client.post("/v1/interactions", json=item(), headers={"Idempotency-Key": key})
    assert later.status_code == 201, later.text
    assert later.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in later.headers
    assert counts()["interactions"] == before["interactions"] + 2


def test_stored_keys_expire_after_the_default_24_hours(client_a: ApiClient, stack: Stack) -> None:
    key = new_key()
    client_a.post("/v1/interactions", json=item(), headers={"Idempotency-Key": key})
    ttl = stack.store.redis.ttl(keys.idempotency(SCOPE_A, key))
    assert 86_400 - 60 <= ttl <= 86_400, ttl


# In-process gateway on the session's Redis: the first request's view is made to fail or
# to block, which cannot be arranged from outside the gunicorn processes.


@pytest.fixture
def app_and_headers(stack: Stack) -> Iterator[tuple[object, dict]]:
    key = "in-process-" + secrets.token_hex(16)
    app = create_app(
        settings=Settings(redis_url=stack.redis_url, api_keys=f"{OWNER_A}:{key}:ingest")
    )
    yield app, {"Authorization": f"Bearer {key}", "Idempotency-Key": new_key()}


def test_a_failed_first_request_frees_the_key_for_a_retry(
    app_and_headers: tuple, monkeypatch: pytest.MonkeyPatch, stack: Stack
) -> None:
    app, headers = app_and_headers
    interactions = app.extensions["tuneloop"].store.scoped("default").interactions
    real_add = interactions.add_many
    calls: list[int] = []

    def fail_once(items: list, limit: tuple = ()) -> list:
        calls.append(len(items))
        if len(calls) == 1:
            raise ConnectionRefusedError("storage went away")  # an unexpected error: 500
        return real_add(items, limit)

    monkeypatch.setattr(interactions, "add_many", fail_once)
    client = app.test_client()
    failed = client.post("/v1/interactions", json=item(), headers=headers)
    assert failed.status_code == 500, failed.get_data(as_text=True)
    assert "Traceback" not in failed.get_data(as_text=True)
    assert not stack.store.redis.exists(keys.idempotency(SCOPE_A, headers["Idempotency-Key"]))
    retried = client.post("/v1/interactions", json=item(), headers=headers)
    assert retried.status_code == 201, retried.get_data(as_text=True)
    assert "Idempotent-Replayed" not in retried.headers
    replayed = client.post("/v1/interactions", json=item(), headers=headers)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.get_data() == retried.get_data()
    assert calls == [1, 1]


def test_a_duplicate_waits_for_the_first_request_and_gives_up_with_409_after_a_bound(
    app_and_headers: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, headers = app_and_headers
    interactions = app.extensions["tuneloop"].store.scoped("default").interactions
    real_add = interactions.add_many
    entered, release = threading.Event(), threading.Event()

    def slow_add(items: list, limit: tuple = ()) -> list:
        entered.set()
        assert release.wait(30), "the test never released the first request"
        return real_add(items, limit)

    monkeypatch.setattr(interactions, "add_many", slow_add)
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.5)
    results: dict[str, object] = {}

    def first() -> None:
        results["first"] = app.test_client().post("/v1/interactions", json=item(), headers=headers)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert entered.wait(10), "the first request never reached the store"
        started = time.monotonic()
        waiting = app.test_client().post("/v1/interactions", json=item(), headers=headers)
        waited = time.monotonic() - started
        body = waiting.get_json()
        assert waiting.status_code == 409, body
        assert waiting.headers["Retry-After"] == "1"
        assert "still being handled" in body["detail"]
        assert 0.4 <= waited < 5, waited
    finally:
        release.set()
        thread.join(30)
    assert not thread.is_alive()
    first_response = results["first"]
    assert first_response.status_code == 201
    retry = app.test_client().post("/v1/interactions", json=item(), headers=headers)
    assert retry.get_data() == first_response.get_data()


def test_a_claim_whose_holder_died_expires_and_a_waiting_retry_then_runs(
    app_and_headers: tuple, monkeypatch: pytest.MonkeyPatch, stack: Stack
) -> None:
    app, headers = app_and_headers
    monkeypatch.setattr(idempotency, "LEASE_SECONDS", 1)  # the claim's lease (SET PX), shortened
    redis, name = stack.store.redis, keys.idempotency(SCOPE_A, headers["Idempotency-Key"])

    def die_holding_the_claim(claim: object, run: object, ttl: int) -> None:
        raise SystemExit("the process died here")  # neither completed nor released

    with monkeypatch.context() as dying:
        dying.setattr(idempotency, "_run_claimed", die_holding_the_claim)
        with pytest.raises(SystemExit):
            app.test_client().post("/v1/interactions", json=item(), headers=headers)
    assert redis.get(name) is not None and '"pending"' in redis.get(name)
    assert 0 < redis.pttl(name) <= 1000, redis.pttl(name)
    # The retry finds the dead request's claim, waits, and runs once the claim has expired.
    retried = app.test_client().post("/v1/interactions", json=item(), headers=headers)
    assert retried.status_code == 201, retried.get_data(as_text=True)
    assert "Idempotent-Replayed" not in retried.headers
    replayed = app.test_client().post("/v1/interactions", json=item(), headers=headers)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.get_data() == retried.get_data()
