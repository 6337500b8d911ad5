"""Several API keys with scopes: each key reaches what its scopes allow and nothing else.

A gateway of this module's own (gunicorn, on the session's redis-server and worker) is
started with TUNELOOP_API_KEYS holding one key per scope, so the session gateway keeps its
single key. start_gateway() is reused by the other modules that need their own settings.
"""

import contextlib
import secrets
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import requests

from tuneloop.settings import Settings
from tuneloop_gateway.app import create_app

from .conftest import child_env
from .support import (
    API_KEY,
    ApiClient,
    Service,
    Stack,
    assert_problem,
    free_port,
    wait_until,
    wait_worker_idle,
)

pytestmark = pytest.mark.integration

BASELINE = "tuneloop-keyword-baseline"


@contextlib.contextmanager
def start_gateway(
    name: str,
    session_stack: Stack,
    workdir: Path,
    env: Mapping[str, str],
    workers: int = 2,
) -> Iterator[Stack]:
    """Run a gunicorn gateway with extra environment on the session's Redis and worker."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:tuneloop_gateway.gunicorn_conf"]
    argv += ["-b", f"127.0.0.1:{port}"]
    argv += ["--workers", str(workers), "--timeout", "60"]
    argv += ["--no-control-socket", "--worker-tmp-dir", str(workdir)]
    argv += ["tuneloop_gateway.app:create_app()"]
    gateway = Service(
        f"gateway-{name}",
        argv,
        workdir / f"gateway-{name}.log",
        env={**child_env(session_stack.redis_url), **env},
        cwd=workdir,
    )
    gateway.start()
    try:
        services = {**session_stack.services, "gateway": gateway}
        stack = Stack(session_stack.redis_url, f"http://127.0.0.1:{port}", API_KEY, services)
        last: dict[str, str] = {}

        def healthy() -> bool:
            if not gateway.running:
                raise AssertionError(f"gateway {name} exited\n{gateway.log_tail()}")
            try:
                response = requests.get(f"{stack.base_url}/healthz", timeout=2)
            except requests.ConnectionError as exc:
                last["healthz"] = str(exc)
                return False
            last["healthz"] = f"{response.status_code} {response.text[:200]}"
            return response.status_code == 200

        wait_until(
            healthy,
            30.0,
            lambda: f"gateway {name} /healthz: {last}\n{gateway.log_tail()}",
            interval=0.2,
        )
        yield stack
    finally:
        gateway.stop()


KEYS = {
    scope: f"scopes-{scope.replace('+', '-')}-{secrets.token_hex(16)}"
    for scope in (
        "ingest",
        "jobs",
        "admin",
        "ingest+jobs",
    )
}
NAMES = {scope: f"scopes-{scope.replace('+', '-')}" for scope in KEYS}


@pytest.fixture(scope="module")
def keyed(stack: Stack, workdir: Path) -> Iterator[Stack]:
    """A gateway with one key per scope (and the session's key as the legacy admin key)."""
    spec = ",".join(f"{NAMES[scope]}:{key}:{scope}" for scope, key in KEYS.items())
    with start_gateway("scopes", stack, workdir, {"TUNELOOP_API_KEYS": spec}) as gateway:
        yield gateway
    wait_worker_idle(stack)


@pytest.fixture(scope="module")
def clients(keyed: Stack) -> Iterator[dict[str, ApiClient]]:
    sessions = {scope: keyed.client(key) for scope, key in KEYS.items()}
    sessions["legacy"] = keyed.client(API_KEY)
    yield sessions
    for session in sessions.values():
        session.close()


ITEM = {
    "input": "Which scope lets me in?",
    "output": "The ingest scope.",
    "rating": 0.9,
    "task_type": "scopes",
}
# A job that ends at once: it selects a task type no interaction has.
QUICK_JOB = {"hyperparameters": {"n_epochs": 1}, "task_types": ["scopes-never-runs"]}


@pytest.fixture(scope="module")
def job_id(clients: dict[str, ApiClient]) -> str:
    created = clients["admin"].post("/v1/jobs", json=QUICK_JOB)
    assert created.status_code == 202, created.text
    return created.json()["id"]


# (scope needed, method, path, body, statuses a permitted key may get)
ENDPOINTS = [
    ("ingest", "POST", "/v1/interactions", ITEM, {201}),
    ("ingest", "POST", "/v1/interactions/batch", {"items": [ITEM, ITEM]}, {201}),
    ("ingest", "GET", "/v1/interactions?limit=2", None, {200}),
    ("ingest", "GET", "/v1/interactions/stats", None, {200}),
    ("jobs", "POST", "/v1/jobs", QUICK_JOB, {202}),
    ("jobs", "GET", "/v1/jobs", None, {200}),
    ("jobs", "GET", "/v1/jobs/{job}", None, {200}),
    ("jobs", "GET", "/v1/jobs/{job}/events", None, {200}),
    # The quick job never prepares training data: 409 is the permitted answer.
    ("jobs", "GET", "/v1/jobs/{job}/training_file", None, {409}),
    # Cancelling: 200 while it runs, 409 once it has ended.
    ("jobs", "POST", "/v1/jobs/{job}/cancel", {}, {200, 409}),
    ("jobs", "GET", "/v1/models", None, {200}),
    ("jobs", "GET", f"/v1/models/{BASELINE}", None, {200}),
    ("jobs", "POST", f"/v1/models/{BASELINE}/responses", {"input": "Rain in Oslo?"}, {200}),
]
HOLDERS = ["ingest", "jobs", "admin", "ingest+jobs", "legacy"]


def permitted(holder: str, needed: str) -> bool:
    held = {"legacy": {"admin"}}.get(holder, set(holder.split("+")))
    return "admin" in held or needed in held


def counts(store_stack: Stack) -> dict[str, int]:
    store = store_stack.store
    return {
        "interactions": store.interactions.count(),
        "jobs": store.jobs.count(),
        "messages": store.messages_sent(),
    }


@pytest.mark.parametrize("holder", HOLDERS)
@pytest.mark.parametrize(
    ("needed", "method", "path", "body", "ok"),
    ENDPOINTS,
    ids=[f"{m} {p}" for _, m, p, _, _ in ENDPOINTS],
)
def test_each_key_reaches_exactly_the_endpoints_its_scopes_allow(
    clients: dict[str, ApiClient],
    keyed: Stack,
    job_id: str,
    holder: str,
    needed: str,
    method: str,
    path: str,
    body: dict | None,
    ok: set[int],
) -> None:
    before = counts(keyed)
    response = clients[holder].request(method, path.format(job=job_id), json=body)
    if permitted(holder, needed):
        assert response.status_code in ok, f"{holder}: {response.status_code} {response.text}"
        return
    problem = assert_problem(response, 403)
    assert f"'{needed}'" in problem["detail"] and "'admin'" in problem["detail"], problem
    assert NAMES[holder] in problem["detail"], problem
    assert "insufficient_scope" in response.headers.get("WWW-Authenticate", "")
    assert KEYS[holder] not in response.text
    assert counts(keyed) == before, "a refused request changed what is stored"


@pytest.mark.parametrize(
    "credential",
    ["Bearer not-a-configured-key", f"Bearer {KEYS['ingest']}x", f"Bearer {KEYS['admin'][:-1]}"],
    ids=["unknown key", "key with a suffix", "truncated key"],
)
def test_an_unknown_key_gets_401_with_a_bearer_challenge(keyed: Stack, credential: str) -> None:
    with keyed.client() as anon:
        for method, path, body in [
            ("GET", "/v1/interactions/stats", None),
            ("POST", "/v1/jobs", QUICK_JOB),
            ("GET", "/v1/models", None),
        ]:
            before = counts(keyed)
            response = anon.request(method, path, json=body, headers={"Authorization": credential})
            problem = assert_problem(response, 401)
            assert problem["detail"] == "the bearer key is not valid"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert counts(keyed) == before


def test_no_key_gets_401_and_public_endpoints_need_none(keyed: Stack) -> None:
    with keyed.client() as anon:
        problem = assert_problem(anon.get("/v1/jobs"), 401)
        assert problem["detail"] == "missing bearer key"
        for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
            assert anon.get(path).status_code == 200, path


def test_a_permitted_key_on_an_unknown_path_gets_404_not_403(
    clients: dict[str, ApiClient],
) -> None:
    assert_problem(clients["ingest"].get("/v1/nothing-here"), 404)


def test_the_openapi_document_names_the_scope_of_each_operation(keyed: Stack) -> None:
    with keyed.client() as anon:
        spec = anon.get("/openapi.json").json()
    for needed, method, path, _, _ in ENDPOINTS:
        doc_path = path.split("?")[0].replace("{job}", "{job_id}")
        doc_path = doc_path.replace(BASELINE, "{model_id}")
        operation = spec["paths"][doc_path][method.lower()]
        assert operation["security"] == [{"bearer": [needed]}, {"bearer": ["admin"]}], doc_path
        assert {"401", "403", "429"} <= set(operation["responses"]), doc_path
    for path in ("/healthz", "/readyz"):
        assert spec["paths"][path]["get"]["security"] == []


def settings_with(api_key: str = "", api_keys: str = "") -> Settings:
    return Settings(redis_url="redis://127.0.0.1:9/0", api_key=api_key, api_keys=api_keys)


GOOD = "k" * 32


@pytest.mark.parametrize(
    ("api_keys", "complaint"),
    [
        ("", "no API key is configured"),
        (" , ", "no API key is configured"),
        (f"app:{GOOD}", "expected name:key:scope"),
        (f"app{GOOD}ingest", "expected name:key:scope"),
        (f"app:{GOOD}:", "unknown scope"),
        (f"app:{GOOD}:write", "unknown scope"),
        (f"app:{GOOD}:ingest+root", "unknown scope"),
        (f":{GOOD}:ingest", "the name must be"),
        (f"a pp:{GOOD}:ingest", "the name must be"),
        ("app::ingest", "the key must be"),
        ("app:two words:ingest", "the key must be"),
        (f"app:{GOOD}:ingest,app:{GOOD}x:jobs", "names must be unique"),
        (f"one:{GOOD}:ingest,two:{GOOD}:jobs", "are the same key"),
    ],
)
def test_the_gateway_refuses_to_start_without_a_key_or_with_a_malformed_spec(
    api_keys: str, complaint: str
) -> None:
    with pytest.raises(RuntimeError, match=complaint) as raised:
        create_app(settings=settings_with(api_keys=api_keys))
    assert GOOD not in str(raised.value), "the error message shows a key"


def test_the_legacy_key_and_the_key_list_work_together_in_process() -> None:
    spec = f"app:{GOOD}:ingest, ops:{'j' * 32}:jobs,"
    app = create_app(settings=settings_with(api_key="l" * 32, api_keys=spec))
    names = {key.name: key.scopes for key in app.extensions["tuneloop"].api_keys}
    assert names == {
        "default": frozenset({"admin"}),
        "app": frozenset({"ingest"}),
        "ops": frozenset({"jobs"}),
    }
    # Only digests are held, never the keys themselves.
    held = repr(app.extensions["tuneloop"])
    assert GOOD not in held and "l" * 32 not in held
    with pytest.raises(RuntimeError, match="names must be unique"):
        create_app(settings=settings_with(api_key="l" * 32, api_keys=f"default:{GOOD}:jobs"))
