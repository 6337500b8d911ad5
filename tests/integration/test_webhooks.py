"""Signed webhooks: endpoints per project, deliveries signed, retried, logged, never in a
job's way.

One private stack: Redis, the gateway, a pipeline worker (its collect stage gated, so a job
can be caught running) and the webhooks worker on its own queue and threads, with retries
after 1 s and 1 s. A receiver on 127.0.0.1 records every POST; its paths answer 200, a
script of statuses, or never. This stack runs no scheduler: the tests send the dispatch task
themselves (what the scheduler sends every few seconds), so a retry goes when they say;
test_autopilot.py shows the scheduler sending one.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tuneloop import celery_factory
from tuneloop.contracts import WEBHOOK_DISPATCH
from tuneloop.settings import Settings
from tuneloop.store import Store, keys
from tuneloop.store.webhook_deliveries import CLAIM_SECONDS, KEEP_DELIVERIES
from tuneloop.webhooks import emit, events, schedule
from tuneloop.webhooks.schedule import Outcome

from .support import (
    API_KEY,
    ApiClient,
    AppClient,
    Stack,
    assert_problem,
    client_for,
    create_job,
    free_port,
    gateway_app,
    private_stack,
    seed_interactions,
    wait_job_status,
    wait_until,
    wait_worker_idle,
)
from .support.receiver import Received, Receiver, serve

pytestmark = pytest.mark.integration

DELAYS = "1,1"  # a failed attempt is retried after 1 s, then 1 s; the third failure gives up
HANG_TIMEOUT = 20.0  # an attempt's deadline: a hanging endpoint holds one thread this long
JSON = {"Content-Type": "application/json"}
PROMOTE = [{"metric": "task_accuracy", "min_value": 0.0}]  # always passes: model.promoted
SETTINGS = {
    "TUNELOOP_WEBHOOK_RETRY_DELAYS": DELAYS,
    "TUNELOOP_WEBHOOK_TIMEOUT": f"{HANG_TIMEOUT:g}",
}


@pytest.fixture(scope="module")
def stack(collect_gate: Path) -> Iterator[Stack]:
    """Redis, the gateway, pipeline worker w1 (one process, collect gated) and the webhooks
    worker."""
    with private_stack("tuneloop-webhooks-", SETTINGS) as running:
        running.start_redis(None)
        running.start_gateway(wait=False)
        # One pipeline slot: a webhook attempt holding it would hold every job behind it.
        running.start_worker("w1", f"collect=gate:{collect_gate}", concurrency=1, wait=False)
        running.start_webhooks_worker(wait=False)
        running.wait_gateway()
        running.wait_worker("w1")
        running.wait_worker("webhooks")
        yield running


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The test's webhook receiver on 127.0.0.1."""
    yield from serve(Receiver())


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[ApiClient]:
    """A client of the stack's gateway, its interactions seeded for jobs."""
    with client_for(stack) as session:
        seed_interactions(session)
        yield session


def endpoint(client: ApiClient, url: str, event_types: list[str]) -> dict:
    """Create an endpoint; return it with its secret."""
    created = client.post("/v1/webhooks", json={"url": url, "events": event_types})
    assert created.status_code == 201, created.text
    return created.json()


def received(receiver: Receiver, path: str, count: int = 1, timeout: float = 30.0) -> list:
    """Wait until path got count POSTs; return them."""
    return wait_until(
        lambda: len(got := receiver.at(path)) >= count and got,
        timeout,
        lambda: f"{count} POSTs on {path}; got {receiver.at(path)}",
        0.01,
    )


def deliveries(client: ApiClient, webhook_id: str, **params: object) -> dict:
    """One page of an endpoint's deliveries."""
    page = client.get(f"/v1/webhooks/{webhook_id}/deliveries", params=params)
    assert page.status_code == 200, page.text
    return page.json()


def settled(client: ApiClient, stack: Stack, webhook_id: str, status: str, attempts: int) -> dict:
    """Wait until the endpoint's newest delivery has status after attempts; return it. Sends
    the dispatch task meanwhile (the periodic scheduler's part)."""
    celery = celery_factory.create(Settings(redis_url=stack.redis_url), "tuneloop-test")

    def reached() -> dict | None:
        celery.send_task(WEBHOOK_DISPATCH, ignore_result=True)
        found = deliveries(client, webhook_id, limit=1)["data"]
        ok = found and found[0]["status"] == status and found[0]["attempts"] == attempts
        return found[0] if ok else None

    try:
        return wait_until(reached, 30, lambda: f"a delivery {status} after {attempts}", 0.2)
    finally:
        celery.close()


def verified(secret: str, got: Received) -> dict:
    """The event, once standardwebhooks verified its signature."""
    return Webhook(secret).verify(got.body, got.headers)


def job_end_ms(stack: Stack, job_id: str, kind: str = "job.succeeded") -> int:
    """When the job's end event was written (its stream id's milliseconds)."""
    found = [e for e in stack.store.jobs.events(job_id, 1000)[0] if e["type"] == kind]
    return int(found[0]["id"].split("-")[0])


def test_a_receiver_verifies_the_signed_job_succeeded_delivery_and_a_tampered_body_fails(
    client: ApiClient, stack: Stack, receiver: Receiver
) -> None:
    hook = endpoint(client, receiver.url("/signed"), [events.FINE_TUNING_JOB_SUCCEEDED])
    assert (
        hook["secret"].startswith("whsec_")
        and "secret" not in client.get(f"/v1/webhooks/{hook['id']}").json()
    )
    latencies = []
    for _ in range(5):
        job_id = create_job(client, n_epochs=1)
        job = wait_job_status(client, stack, job_id, {"succeeded", "failed"}, 120)
        assert job["status"] == "succeeded", job
        got = received(receiver, "/signed", len(latencies) + 1)[-1]
        latencies.append(got.at * 1000 - job_end_ms(stack, job_id))
        event = verified(hook["secret"], got)
        assert event["type"] == "fine_tuning.job.succeeded" and event["data"]["id"] == job_id
        assert event["data"]["model_id"] == job["model_id"] and event["data"]["error"] is None
        assert got.headers["webhook-id"] == event["id"] and event["id"].startswith("evt_")
        tampered = got.body.replace(b'"status":"succeeded"', b'"status":"failed"')
        assert tampered != got.body
        with pytest.raises(WebhookVerificationError):
            Webhook(hook["secret"]).verify(tampered, got.headers)
        other = Webhook("whsec_" + "A" * 43 + "=")  # another endpoint's secret
        with pytest.raises(WebhookVerificationError):
            other.verify(got.body, got.headers)
    assert client.delete(f"/v1/webhooks/{hook['id']}").status_code == 200
    print(
        f"\nDELIVERY LATENCY job end -> receiver, {len(latencies)} jobs: median "
        f"{statistics.median(latencies):.1f} ms, min {min(latencies):.1f}, max {max(latencies):.1f}"
    )


def test_a_failing_receiver_is_retried_on_the_schedule_and_every_attempt_is_logged(
    client: ApiClient, stack: Stack, receiver: Receiver
) -> None:
    receiver.answers["/flaky"] = [500, 200]
    receiver.answers["/down"] = [503]
    flaky = endpoint(client, receiver.url("/flaky"), [events.FINE_TUNING_JOB_SUCCEEDED])
    down = endpoint(client, receiver.url("/down"), [events.FINE_TUNING_JOB_SUCCEEDED])
    job_id = create_job(client, n_epochs=1)
    assert wait_job_status(client, stack, job_id, {"succeeded"}, 120)["status"] == "succeeded"
    first = received(receiver, "/flaky")[0]
    # No dispatch is sent yet: the delivery waits, its 500 logged, its retry due.
    logged = wait_until(
        lambda: [d for d in deliveries(client, flaky["id"])["data"] if d["attempts"] == 1],
        30,
        lambda: f"the first attempt logged: {deliveries(client, flaky['id'])}",
    )[0]
    assert logged["status"] == "pending" and logged["last_status_code"] == 500, logged
    assert logged["next_attempt_at"] >= logged["last_attempt_at"] + 1
    assert logged["last_response"].startswith("answered 500")
    assert len(logged["last_response"]) == 512  # the answer's first bytes only
    assert logged["payload"]["data"]["id"] == job_id

    retried = settled(client, stack, flaky["id"], "succeeded", 2)  # dispatch sends it when due
    assert [a["status_code"] for a in retried["attempt_log"]] == [500, 200], retried
    assert retried["next_attempt_at"] is None and retried["last_error"] is None
    second = received(receiver, "/flaky", 2)[1]
    assert second.headers["webhook-id"] == first.headers["webhook-id"]  # the same event
    assert second.body == first.body  # signed again for its own time
    assert second.at - first.at >= 1.0  # not before the schedule's 1 s

    gave_up = settled(client, stack, down["id"], "failed", 3)  # 1 + the two delays
    assert [a["status_code"] for a in gave_up["attempt_log"]] == [503, 503, 503]
    assert gave_up["next_attempt_at"] is None
    assert len(receiver.at("/down")) == 3
    for hook in (flaky, down):
        assert client.delete(f"/v1/webhooks/{hook['id']}").json()["deleted"] is True


def test_a_dead_endpoint_never_slows_a_job(
    client: ApiClient, stack: Stack, receiver: Receiver
) -> None:
    receiver.hanging.add("/hang")
    hang = endpoint(client, receiver.url("/hang"), ["*"])
    gone = endpoint(client, f"http://127.0.0.1:{free_port()}/gone", ["*"])  # refuses
    began = time.monotonic()
    job_id = create_job(client, n_epochs=1)
    job = wait_job_status(client, stack, job_id, {"succeeded", "failed"}, 120)
    took = time.monotonic() - began
    assert job["status"] == "succeeded", job
    received(receiver, "/hang")
    # The job has ended while its delivery still waits for the hanging endpoint's answer,
    assert receiver.still_open(0), "the attempt was over before the job's end was seen"
    assert took < HANG_TIMEOUT, took
    # and the pipeline worker's only slot is free: another job runs from start to end.
    second = create_job(client, n_epochs=1)
    assert wait_job_status(client, stack, second, {"succeeded"}, HANG_TIMEOUT)["status"]
    assert receiver.still_open(0), "the second job waited for the hanging endpoint"
    holding = deliveries(client, hang["id"])["data"][-1]  # the first job's
    busy = client.post(f"/v1/webhooks/{hang['id']}/deliveries/{holding['id']}/redeliver")
    assert_problem(busy, 409)  # not sent twice at once
    refused = wait_until(
        lambda: [d for d in deliveries(client, gone["id"])["data"][-1:] if d["attempts"] == 1],
        30,
        lambda: f"the refused attempt logged: {deliveries(client, gone['id'])}",
    )[0]
    assert refused["status"] == "pending" and refused["last_status_code"] is None
    assert "ConnectionRefusedError" in refused["last_error"], refused
    timed_out = wait_until(
        lambda: [d for d in deliveries(client, hang["id"])["data"][-1:] if d["attempts"] == 1],
        HANG_TIMEOUT + 10,
        lambda: f"the hanging attempt to time out: {deliveries(client, hang['id'])}",
    )[0]
    assert timed_out["last_error"] == f"timed out after {HANG_TIMEOUT:g} s", timed_out
    assert not receiver.still_open(0)
    receiver.release.set()  # the second job's attempt: answered with a closed connection
    for hook in (hang, gone):
        assert client.delete(f"/v1/webhooks/{hook['id']}").status_code == 200


def test_the_deliveries_log_pages_newest_first_and_redeliver_sends_again(
    client: ApiClient, stack: Stack, receiver: Receiver
) -> None:
    hook = endpoint(client, receiver.url("/log"), ["*"])
    job_id = create_job(client, n_epochs=1, promote_if=PROMOTE)
    assert wait_job_status(client, stack, job_id, {"succeeded"}, 120)["status"] == "succeeded"
    received(receiver, "/log", 2)  # the job's end, then its model's promotion
    both = wait_until(
        lambda: [d for d in deliveries(client, hook["id"])["data"] if d["status"] == "succeeded"],
        30,
        lambda: f"both delivered: {deliveries(client, hook['id'])}",
    )
    assert len(both) == 2
    newest = deliveries(client, hook["id"], limit=1)
    assert newest["has_more"] is True
    (promoted,) = newest["data"]
    assert promoted["event_type"] == "model.promoted"
    assert promoted["payload"]["data"]["job_id"] == job_id
    older = deliveries(client, hook["id"], limit=1, after=promoted["id"])
    assert older["has_more"] is False
    (ended,) = older["data"]
    assert ended["event_type"] == "fine_tuning.job.succeeded" and ended["attempts"] == 1
    assert ended["last_status_code"] == 200 and ended["last_response"].startswith("answered 200")

    again = client.post(f"/v1/webhooks/{hook['id']}/deliveries/{ended['id']}/redeliver")
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "pending"
    sent = received(receiver, "/log", 3)[2]  # at once: no dispatch was sent
    assert sent.headers["webhook-id"] == ended["event_id"]
    assert verified(hook["secret"], sent)["data"]["id"] == job_id
    resent = wait_until(
        lambda: next(
            (
                d
                for d in deliveries(client, hook["id"])["data"]
                if d["id"] == ended["id"] and d["attempts"] == 2 and d["status"] == "succeeded"
            ),
            None,
        ),
        30,
        lambda: f"the redelivery logged: {deliveries(client, hook['id'])}",
    )
    assert [a["status_code"] for a in resent["attempt_log"]] == [200, 200]
    unknown = f"/v1/webhooks/{hook['id']}/deliveries/whd_{'0' * 24}/redeliver"
    assert "whd_" in assert_problem(client.post(unknown), 404)["detail"]
    assert client.delete(f"/v1/webhooks/{hook['id']}").status_code == 200
    assert_problem(client.get(f"/v1/webhooks/{hook['id']}/deliveries"), 404)
    assert not stack.store.redis.exists(keys.webhook_delivery(ended["id"]))


def test_a_failed_a_cancelled_and_an_evaluation_job_each_tell_their_end_once(
    client: ApiClient, stack: Stack, receiver: Receiver, collect_gate: Path
) -> None:
    hook = endpoint(client, receiver.url("/ends"), ["*"])
    nothing_kept = {"include_synthetic": False, "task_types": ["no-such-task"]}
    failing = client.post("/v1/jobs", json=nothing_kept)
    assert failing.status_code == 202, failing.text
    failed_id = failing.json()["id"]
    assert wait_job_status(client, stack, failed_id, {"failed"}, 120)["status"] == "failed"

    collect_gate.unlink()  # the next job stays in collect until the gate opens
    try:
        cancelled_id = create_job(client, n_epochs=1)
        wait_until(
            lambda: stack.store.jobs.get(cancelled_id)["deliveries"].get("collect"),
            60,
            lambda: f"collect of {cancelled_id} to start",
        )
        answer = client.post(f"/v1/jobs/{cancelled_id}/cancel", headers=JSON)
        assert answer.status_code == 200, answer.text
    finally:
        collect_gate.touch()

    trained_id = create_job(client, n_epochs=1)
    trained = wait_job_status(client, stack, trained_id, {"succeeded"}, 120)
    evaluation = client.post(
        "/v1/evaluations",
        json={
            "model_a": "tuneloop-keyword-baseline",
            "model_b": trained["model_id"],
            "eval_set": [{"input": "Will it rain in Oslo?", "expected_type": "weather"}],
        },
    )
    assert evaluation.status_code == 202, evaluation.text
    evaluation_id = evaluation.json()["id"]
    wait_job_status(client, stack, evaluation_id, {"succeeded", "failed"}, 120)
    got = {(e := verified(hook["secret"], r))["type"]: e for r in received(receiver, "/ends", 3)}
    assert got["fine_tuning.job.failed"]["data"]["id"] == failed_id
    assert got["fine_tuning.job.failed"]["data"]["error"]["code"] == "no_training_data"
    assert got["fine_tuning.job.cancelled"]["data"]["id"] == cancelled_id
    assert got["eval.run.succeeded"]["data"]["id"] == evaluation_id
    assert got["eval.run.succeeded"]["data"]["object"] == "evaluation.job"
    wait_worker_idle(stack)  # the cancelled job's collect went on past the gate, and stopped
    ended = (failed_id, cancelled_id, trained_id, evaluation_id)
    for job_id in ended:  # as a stage of an ended job does
        assert emit.job_ended(stack.store, job_id) == []  # seen again: nothing emitted
    assert len(receiver.at("/ends")) == len(ended)
    assert len(deliveries(client, hook["id"])["data"]) == len(ended)
    assert client.delete(f"/v1/webhooks/{hook['id']}").status_code == 200


def test_a_private_target_is_refused_at_creation_without_the_setting_naming_url(
    stack: Stack,
) -> None:
    with gateway_app(stack.env(TUNELOOP_WEBHOOK_ALLOW_PRIVATE="0")) as app:
        strict = AppClient(app, API_KEY)
        before = strict.get("/v1/webhooks", params={"limit": 100}).json()["data"]
        for url in (
            "http://127.0.0.1:8080/hook",
            "http://10.0.0.1/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:9/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://0.0.0.0/hook",
            "http://localhost:9/hook",  # a name: resolved, to loopback
        ):
            refused = strict.post("/v1/webhooks", json={"url": url, "events": ["*"]})
            problem = assert_problem(refused, 422)
            assert list(problem["errors"]) == ["url"], (url, problem)
        for url in ("ftp://example.org/hook", "http://user:pw@example.org/", "/relative"):
            refused = strict.post("/v1/webhooks", json={"url": url, "events": ["*"]})
            assert list(assert_problem(refused, 422)["errors"]) == ["url"], url
        for wanted in ([], ["fine_tuning.job.done"], ["*", "*"], "*"):
            refused = strict.post(
                "/v1/webhooks", json={"url": "http://a.example/", "events": wanted}
            )
            assert list(assert_problem(refused, 422)["errors"]) == ["events"], wanted
        assert strict.get("/v1/webhooks", params={"limit": 100}).json()["data"] == before


def test_endpoints_past_the_projects_limits_are_refused_429(
    stack: Stack, receiver: Receiver
) -> None:
    body = {"url": receiver.url("/limits"), "events": ["*"]}
    with gateway_app(stack.env(TUNELOOP_WEBHOOK_MAX_ENDPOINTS="1")) as app:
        few = AppClient(app, API_KEY)
        first = few.post("/v1/webhooks", json=body)
        assert first.status_code == 201, first.text
        over = assert_problem(few.post("/v1/webhooks", json=body), 429)
        assert "TUNELOOP_WEBHOOK_MAX_ENDPOINTS" in over["detail"]
        assert few.request("DELETE", f"/v1/webhooks/{first.json()['id']}").status_code == 200
    with gateway_app(stack.env(TUNELOOP_MAX_PROJECT_BYTES="1")) as app:
        full = AppClient(app, API_KEY)  # the default project stores interactions already
        refused = assert_problem(full.post("/v1/webhooks", json=body), 429)
        assert refused["type"] == "insufficient_quota", refused
        assert "TUNELOOP_MAX_PROJECT_BYTES" in refused["detail"]


def other_url(stack: Stack) -> str:
    """The URL of another database of the stack's Redis."""
    return stack.redis_url.rsplit("/", 1)[0] + "/1"


@pytest.fixture
def other_db(stack: Stack) -> Iterator[Store]:
    """A store on another database of the stack's Redis, where no worker looks."""
    store = Store.from_url(other_url(stack))
    store.redis.flushdb()
    try:
        yield store
    finally:
        store.redis.flushdb()
        store.redis.close()


def test_two_dispatchers_never_claim_one_delivery_twice(stack: Stack, other_db: Store) -> None:
    hook = other_db.scoped("claims").webhooks.create("http://127.0.0.1:9/x", ["*"], None)
    for i in range(60):
        other_db.webhooks.emit("claims", events.MODEL_PROMOTED, {"id": f"m{i}"})
    dids = set(other_db.redis.zrange(keys.webhook_deliveries(hook["id"]), 0, -1))
    assert len(dids) == 60
    claimed: list[list[tuple[str, str]]] = [[], []]
    together = threading.Barrier(2)

    def claim(n: int) -> None:
        store = Store.from_url(other_url(stack))
        together.wait(10)
        while (found := store.webhooks.claim_due(limit=1)) and len(claimed[n]) < 200:
            claimed[n] += found
        store.redis.close()

    threads = [threading.Thread(target=claim, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    every = [did for found in claimed for did, _ in found]
    assert sorted(every) == sorted(dids), "each delivery claimed exactly once"
    did, token = claimed[0][0]
    assert other_db.webhooks.begin(did, "stale-token") is None  # another claim's
    record = other_db.webhooks.begin(did, token)
    assert record is not None and record["id"] == did
    until = other_db.redis.zscore(keys.WEBHOOKS_DUE, did)
    assert until > time.time() + CLAIM_SECONDS - 5  # held, not due, while the attempt runs
    assert other_db.webhooks.settle({**record, "attempts": 1}, "stale-token", None) is False
    assert other_db.webhooks.settle({**record, "attempts": 1}, token, None) is True
    assert other_db.redis.zscore(keys.WEBHOOKS_DUE, did) is None  # ended: no longer due


def test_endpoint_and_delivery_bytes_count_in_usage_and_an_endpoint_keeps_the_newest(
    other_db: Store,
) -> None:
    view = other_db.scoped("bytes")
    hook = view.webhooks.create("http://127.0.0.1:9/x", [events.MODEL_PROMOTED], None)
    keep = KEEP_DELIVERIES
    for i in range(keep + 5):
        view.webhooks.emit("bytes", events.MODEL_PROMOTED, {"id": f"m{i}"})
    index = keys.webhook_deliveries(hook["id"])
    kept = other_db.redis.zrange(index, 0, -1)
    assert len(kept) == keep  # the 5 oldest dropped
    (did, token), *_ = view.webhooks.claim_due(limit=1)  # an attempt's log grows its record
    record = view.webhooks.begin(did, token)
    tried, due = schedule.after_attempt(record, Outcome(500, "x" * 512), time.time(), (1.0,))
    assert view.webhooks.settle(tried, token, due)
    assert view.webhooks.redeliver(hook["id"], kept[-1])["status"] == "pending"
    oldest = json.loads(other_db.redis.get(keys.webhook_delivery(kept[0])))
    assert json.loads(oldest["body"])["data"]["id"] == "m5"
    stored = sum(other_db.redis.strlen(keys.webhook_delivery(d)) for d in kept)
    usage = view.usage()
    assert usage["webhook_deliveries"] == {"bytes": stored, "count": keep}
    assert usage["webhooks"] == {
        "bytes": other_db.redis.strlen(keys.webhook(hook["id"])),
        "count": 1,
    }
    assert usage["bytes"] == stored + usage["webhooks"]["bytes"]
    assert view.webhooks.delete(hook["id"]) is True
    empty = view.usage()
    assert empty["bytes"] == 0 and empty["webhook_deliveries"]["count"] == 0
    assert not other_db.redis.zcard(keys.WEBHOOKS_DUE)
