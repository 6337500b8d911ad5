"""Limits: request body size (413), the per-key rate limit (429 + Retry-After), debug off.

A tiny body limit and a tiny rate limit each get a gunicorn gateway of their own (on the
session's redis-server and worker): bodies declared, chunked or cut short, and one count
shared by several gunicorn workers, need a real server. A body over the default limit is
refused from its headers: see test_slow_clients.py.
"""

import json
import secrets
from collections.abc import Iterator

import pytest
import requests

from tuneloop.schemas.common import MAX_METADATA_BYTES, MAX_TASK_TYPE, MAX_TEXT
from tuneloop.schemas.interactions import MAX_BATCH, InteractionBatchInSchema
from tuneloop.schemas.jobs import MAX_EVAL_SET, JobInSchema
from tuneloop.settings import Settings
from tuneloop_gateway.app import create_app
from tuneloop_gateway.limits import RATE_LIMIT_PREFIX

from .support import (
    API_KEY,
    ApiClient,
    Stack,
    assert_problem,
    extra_gateway,
    free_port,
    wait_for_job,
    wait_until,
)

pytestmark = pytest.mark.integration

DEFAULT_MAX_BODY = Settings().max_body_bytes
JSON = {"Content-Type": "application/json"}


def item(**changes: object) -> dict:
    return {
        "input": "How big may a request be?",
        "output": "Big enough for the documented maxima.",
        "rating": 0.9,
        "task_type": "limits",
        **changes,
    }


def largest_metadata() -> dict:
    """A metadata object whose JSON is exactly the most the schema accepts."""
    metadata = {"k": ""}
    metadata["k"] = "m" * (MAX_METADATA_BYTES - len(json.dumps(metadata)))
    assert len(json.dumps(metadata)) == MAX_METADATA_BYTES
    return metadata


@pytest.mark.parametrize(
    ("char", "ensure_ascii"),
    [("x", True), ("\u4e2d", True), ("\u4e2d", False), ("\U0001f600", False)],
    ids=["ASCII", "CJK escaped as requests sends it", "CJK as UTF-8", "emoji as UTF-8"],
)
def test_the_default_body_limit_fits_a_batch_of_1000_maximum_size_items(
    char: str, ensure_ascii: bool
) -> None:
    biggest = item(
        input=char * MAX_TEXT,
        output=char * MAX_TEXT,
        task_type="t" * MAX_TASK_TYPE,
        source="synthetic",
        rating=0.123456789012345,
        metadata=largest_metadata(),
    )
    batch = {"items": [biggest] * MAX_BATCH}
    InteractionBatchInSchema().load(batch)  # valid: these really are maximum-size items
    size = len(json.dumps(batch, ensure_ascii=ensure_ascii).encode())
    assert size <= DEFAULT_MAX_BODY, f"{size} bytes > {DEFAULT_MAX_BODY}"


def test_the_default_body_limit_fits_an_eval_set_of_10000_short_queries() -> None:
    case = {
        "input": "q" * 200,
        "expected_type": "t" * MAX_TASK_TYPE,
        "reference_output": "r" * 1000,
    }
    body = {"eval_set": [case] * MAX_EVAL_SET, "hyperparameters": {"n_epochs": 1}}
    JobInSchema().load(body)
    assert len(json.dumps(body).encode()) <= DEFAULT_MAX_BODY


def test_a_batch_of_1000_items_of_4000_characters_is_accepted(client: ApiClient, counts) -> None:
    before = counts()
    items = [
        item(input=f"{i:04d}" + "i" * (MAX_TEXT - 4), output="o" * MAX_TEXT, task_type="limits-big")
        for i in range(MAX_BATCH)
    ]
    response = client.post("/v1/interactions/batch", json={"items": items}, timeout=120)
    assert response.status_code == 201, response.text[:300]
    assert response.json()["count"] == MAX_BATCH
    assert counts()["interactions"] == before["interactions"] + MAX_BATCH


def test_an_eval_set_of_10000_short_queries_is_accepted(client: ApiClient, stack: Stack) -> None:
    eval_set = [
        {"input": f"Short query number {i} about the weather in Oslo?", "expected_type": "weather"}
        for i in range(MAX_EVAL_SET)
    ]
    body = {
        "eval_set": eval_set,
        "task_types": ["limits-never-runs"],
        "hyperparameters": {"n_epochs": 1},
    }
    created = client.post("/v1/jobs", json=body, timeout=60)
    assert created.status_code == 202, created.text[:300]
    wait_for_job(client, stack, created.json()["id"], expect="failed")


SMALL_BODY = 64 * 1024
BODY_KEY = f"limits-body-{secrets.token_hex(16)}"


@pytest.fixture(scope="module")
def small_body(stack: Stack) -> Iterator[ApiClient]:
    """A gateway that accepts bodies of at most 64 KiB."""
    env = {
        "TUNELOOP_API_KEYS": f"limits-body:{BODY_KEY}:admin",
        "TUNELOOP_MAX_BODY_BYTES": str(SMALL_BODY),
    }
    with extra_gateway(stack, "body-limit", env) as url, ApiClient(url, BODY_KEY) as client:
        yield client


def padded(body: dict, size: int) -> bytes:
    """body as JSON, padded with trailing whitespace (still valid JSON) to exactly size bytes."""
    data = json.dumps(body).encode()
    assert len(data) <= size
    return data + b" " * (size - len(data))


def chunks(data: bytes, size: int = 8192) -> Iterator[bytes]:
    """Yield data in pieces, so requests sends it chunked, without a Content-Length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_body_of_exactly_the_limit_is_accepted(small_body: ApiClient, stack: Stack) -> None:
    before = stack.store.interactions.count()
    response = small_body.post("/v1/interactions", data=padded(item(), SMALL_BODY), headers=JSON)
    assert response.status_code == 201, response.text
    chunked = small_body.post(
        "/v1/interactions", data=chunks(padded(item(), SMALL_BODY)), headers=JSON
    )
    assert chunked.status_code == 201, chunked.text
    assert stack.store.interactions.count() == before + 2


def test_a_body_one_byte_over_the_limit_gets_413_whether_declared_or_chunked(
    small_body: ApiClient, stack: Stack
) -> None:
    before = stack.store.interactions.count()
    over = padded(item(), SMALL_BODY + 1)
    declared = small_body.post("/v1/interactions", data=over, headers=JSON)
    problem = assert_problem(declared, 413)
    assert f"{SMALL_BODY + 1} bytes" in problem["detail"], problem
    chunked = small_body.post("/v1/interactions", data=chunks(over), headers=JSON)
    problem = assert_problem(chunked, 413)
    assert str(SMALL_BODY) in problem["detail"], problem
    # A much larger body, too: refused without reading it all.
    huge = small_body.post("/v1/jobs", data=b"{" * (32 * SMALL_BODY), headers=JSON)
    assert_problem(huge, 413)
    assert stack.store.interactions.count() == before


def test_the_body_limit_comes_after_the_key_check(small_body: ApiClient) -> None:
    response = small_body.post(
        "/v1/interactions",
        data=b" " * (SMALL_BODY + 1),
        headers={**JSON, "Authorization": "Bearer wrong"},
    )
    assert_problem(response, 401)


RATE = "5 per 3 seconds"
RATE_KEYS = {
    name: f"{name}-{secrets.token_hex(16)}"
    for name in ("limits-rate-a", "limits-rate-b", "limits-rate-admin")
}


@pytest.fixture(scope="module")
def rate_limited(stack: Stack) -> Iterator[str]:
    """A gateway (two gunicorn workers, one count) allowing each app key five requests per
    three seconds (admin keys: any); yields its base URL."""
    spec = ",".join(
        f"{name}:{key}:{'admin' if name.endswith('admin') else 'ingest+jobs'}"
        for name, key in RATE_KEYS.items()
    )
    env = {"TUNELOOP_API_KEYS": spec, "TUNELOOP_RATE_LIMIT": RATE, "WEB_CONCURRENCY": "2"}
    with extra_gateway(stack, "rate-limit", env) as url:
        yield url


def rate_window(stack: Stack, name: str) -> int | None:
    """The count in the key name's current window, None when it has none (expired or unused)."""
    counts = rate_limit_counts(stack)
    return next((n for k, n in counts.items() if f"/{name}/" in k), None)


def test_a_key_over_its_rate_limit_gets_429_with_retry_after_then_is_let_in_again(
    rate_limited: str, stack: Stack
) -> None:
    with (
        ApiClient(rate_limited, RATE_KEYS["limits-rate-a"]) as a,
        ApiClient(rate_limited, RATE_KEYS["limits-rate-b"]) as b,
        ApiClient(rate_limited) as anon,
    ):

        def burst() -> tuple[list[int], requests.Response] | None:
            """Seven requests of key a from a fresh window; None unless one window held all."""
            # A fresh window: whatever an earlier request of key a counted has expired.
            wait_until(
                lambda: rate_window(stack, "limits-rate-a") is None,
                10.0,
                lambda: f"key a's window to expire: {rate_limit_counts(stack)}",
                interval=0.05,
            )
            statuses = [a.get("/v1/models").status_code for _ in range(6)]
            limited = a.post("/v1/interactions", json=item())
            # Every request is counted, refused ones too: 7 means the window never turned.
            return (statuses, limited) if rate_window(stack, "limits-rate-a") == 7 else None

        statuses, limited = wait_until(burst, 60.0, lambda: "7 requests inside one window")
        assert statuses == [200] * 5 + [429], statuses
        problem = assert_problem(limited, 429)
        assert "limits-rate-a" in problem["detail"] and "5 per 3 second" in problem["detail"]
        retry_after = int(limited.headers["Retry-After"])
        assert 1 <= retry_after <= 3, retry_after
        assert RATE_KEYS["limits-rate-a"] not in limited.text
        # Another key has its own count; public endpoints are never limited.
        assert b.get("/v1/models").status_code == 200
        for path in ("/healthz", "/openapi.json", "/docs") * 4 + ("/readyz",):
            assert anon.get(path).status_code == 200, path
        # Once the window has passed, the key is let in again.
        wait_until(
            lambda: rate_window(stack, "limits-rate-a") is None,
            retry_after + 5.0,
            lambda: f"key a's window to pass: {rate_limit_counts(stack)}",
            interval=0.05,
        )
        assert a.get("/v1/models").status_code == 200


def test_admin_keys_are_not_limited_unless_an_admin_rate_limit_is_set(
    rate_limited: str,
) -> None:
    with ApiClient(rate_limited, RATE_KEYS["limits-rate-admin"]) as admin:
        statuses = {admin.get("/v1/models").status_code for _ in range(20)}
    assert statuses == {200}


def rate_limit_counts(stack: Stack) -> dict[str, int]:
    """Every rate-limit counter in Redis (fixed windows: one integer per key and window)."""
    redis = stack.store.redis
    names = sorted(redis.scan_iter(match=f"{RATE_LIMIT_PREFIX}:*"))
    values = redis.mget(names) if names else []
    return {name: int(value or 0) for name, value in zip(names, values, strict=True)}


def test_rejected_keys_do_not_use_up_a_rate_limit(rate_limited: str, stack: Stack) -> None:
    before = rate_limit_counts(stack)
    with ApiClient(rate_limited) as anon:
        for credential in ("Bearer nope", f"Bearer {API_KEY}x") * 10:
            response = anon.get("/v1/models", headers={"Authorization": credential})
            assert_problem(response, 401)
    counted = {k: n for k, n in rate_limit_counts(stack).items() if n > before.get(k, 0)}
    assert counted == {}, f"rejected requests were counted: {counted}"
    # Where they would be counted, an accepted request is.
    with ApiClient(rate_limited, RATE_KEYS["limits-rate-b"]) as b:
        assert b.get("/v1/models").status_code == 200
    assert any("limits-rate-b" in name for name in rate_limit_counts(stack)), before


# In-process gateways: what cannot be arranged from outside gunicorn.


def dead_redis_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there


def test_the_rate_limit_fails_open_when_redis_is_unreachable() -> None:
    key = "k" * 32
    app = create_app(
        settings=Settings(
            redis_url=dead_redis_url(), api_keys=f"app:{key}:ingest+jobs", rate_limit="1/minute"
        )
    )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    for _ in range(3):
        # Validation still answers (the limit would have refused the second request) ...
        invalid = client.post("/v1/interactions", json={**item(), "rating": 2}, headers=headers)
        assert invalid.status_code == 422, invalid.get_data(as_text=True)
        # ... and what needs storage gets the usual 503, never a 500 or a 429.
        stored = client.get("/v1/models", headers=headers)
        assert stored.status_code == 503, stored.get_data(as_text=True)
        assert stored.headers["Retry-After"]


@pytest.mark.parametrize(
    ("scopes", "limits"),
    [
        ("ingest+jobs", {"rate_limit": "1/minute"}),
        ("admin", {"rate_limit": "off", "admin_rate_limit": "1/minute"}),
    ],
    ids=["app key, TUNELOOP_RATE_LIMIT", "admin key, TUNELOOP_ADMIN_RATE_LIMIT"],
)
def test_the_same_tiny_limit_refuses_the_second_request_when_redis_answers(
    stack: Stack, scopes: str, limits: dict
) -> None:
    key = f"limits-in-process-{secrets.token_hex(16)}"
    name = f"limits-in-process-{key[-8:]}"
    app = create_app(
        settings=Settings(redis_url=stack.redis_url, api_keys=f"{name}:{key}:{scopes}", **limits)
    )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/models", headers=headers).status_code == 200
    refused = client.get("/v1/models", headers=headers)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_the_hot_endpoints_count_the_limit_in_their_own_script_once_and_store_nothing_past_it(
    stack: Stack,
) -> None:
    # POST /v1/interactions, .../batch and GET /v1/jobs/{id} count the rate limit in the
    # script that does their work (issue #13); every other answer of theirs counts it after.
    key = f"limits-in-store-{secrets.token_hex(16)}"
    name = f"limits-in-store-{key[-8:]}"
    app = create_app(
        settings=Settings(
            redis_url=stack.redis_url, api_keys=f"{name}:{key}:ingest+jobs", rate_limit="6/minute"
        )
    )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    store = stack.store
    request = JobInSchema().load({"hyperparameters": {"n_epochs": 1}})
    ended = store.jobs.create(request, snapshot_seq=0, total_steps=7)["id"]
    store.cancel_job(ended)
    before = store.interactions.count()
    try:
        answers = [
            client.post("/v1/interactions", json=item(), headers=headers),
            client.post("/v1/interactions/batch", json={"items": [item()] * 2}, headers=headers),
            client.post("/v1/interactions", json=item(rating=2), headers=headers),
            client.get(f"/v1/jobs/{ended}", headers=headers),  # rendered and kept
            client.get(f"/v1/jobs/{ended}", headers=headers),  # the kept answer
            client.get("/v1/jobs/ftjob_none", headers=headers),
        ]
        assert [a.status_code for a in answers] == [201, 201, 422, 200, 200, 404]
        assert answers[3].get_data() == answers[4].get_data()
        refused = [
            client.post("/v1/interactions", json=item(), headers=headers),
            client.post("/v1/interactions/batch", json={"items": [item()] * 2}, headers=headers),
            client.post("/v1/interactions", json=item(rating=2), headers=headers),
            client.get(f"/v1/jobs/{ended}", headers=headers),
            client.get("/v1/jobs/ftjob_none", headers=headers),
        ]
        for response in refused:
            body = response.get_json()
            assert response.status_code == 429, (response.request.path, body)
            assert name in body["detail"] and "6 per 1 minute" in body["detail"], body
            assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert store.interactions.count() == before + 3
    finally:
        store.jobs.delete(ended)


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"rate_limit": "lots"}, "TUNELOOP_RATE_LIMIT"),
        ({"rate_limit": "10 per fortnight"}, "TUNELOOP_RATE_LIMIT"),
        ({"admin_rate_limit": "-1/minute"}, "TUNELOOP_ADMIN_RATE_LIMIT"),
        ({"max_body_bytes": 0}, "TUNELOOP_MAX_BODY_BYTES"),
        ({"idempotency_ttl": 0}, "TUNELOOP_IDEMPOTENCY_TTL"),
    ],
)
def test_the_gateway_refuses_to_start_with_a_bad_limit(changes: dict, complaint: str) -> None:
    settings = Settings(redis_url=dead_redis_url(), api_key="k" * 32, **changes)
    with pytest.raises(RuntimeError, match=complaint):
        create_app(settings=settings)


def test_the_rate_limits_can_be_turned_off() -> None:
    settings = Settings(
        redis_url=dead_redis_url(), api_key="k" * 32, rate_limit="off", admin_rate_limit="off"
    )
    app = create_app(settings=settings)
    assert "limiter" not in app.extensions


def test_debug_stays_off_whatever_the_environment_or_config_says(
    monkeypatch: pytest.MonkeyPatch, stack: Stack
) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    key = "k" * 32
    settings = Settings(redis_url=stack.redis_url, api_key=key)
    app = create_app({"DEBUG": True}, settings=settings)
    assert app.debug is False

    def explode() -> dict:
        raise ValueError("secret internals /srv/tuneloop/store.py line 42")

    monkeypatch.setattr(
        app.extensions["tuneloop"].store.scoped("default").interactions, "stats", explode
    )
    response = app.test_client().get(
        "/v1/interactions/stats", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    text = response.get_data(as_text=True)
    assert "secret internals" not in text and "Traceback" not in text and ".py" not in text


def test_the_session_gateway_serves_no_debugger_console(client: ApiClient) -> None:
    # With a valid key the request gets past authentication to routing: /console must be the
    # gateway's own 404 problem, not a page of Werkzeug's debugger, which answers before it.
    response = client.get("/console")
    assert "Werkzeug Debugger" not in response.text
    assert_problem(response, 404)
