"""Several API keys with scopes: each key reaches what its scopes allow and nothing else.

A gateway app of this module's own runs in this process (Flask's test client: scopes need no
real server) on the session's redis-server and worker, with TUNELOOP_API_KEYS holding one key
per scope, so the session gateway keeps its single key. A refused request must store nothing
and send no message to the workers, as the broker sees it (support.SentMessages).
"""

import secrets
from collections.abc import Iterator

import pytest
from flask import Flask

from tuneloop.settings import Settings
from tuneloop_gateway.app import create_app

from .support import (
    API_KEY,
    AppClient,
    SentMessages,
    Stack,
    assert_problem,
    gateway_app,
    wait_worker_idle,
)

pytestmark = pytest.mark.integration

BASELINE = "tuneloop-keyword-baseline"
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
def keyed(stack: Stack) -> Iterator[Flask]:
    """A gateway app with one key per scope (and the session's key as the legacy admin key)."""
    spec = ",".join(f"{NAMES[scope]}:{key}:{scope}" for scope, key in KEYS.items())
    with gateway_app(stack.env(TUNELOOP_API_KEYS=spec)) as app:
        yield app
    wait_worker_idle(stack)


@pytest.fixture(scope="module")
def clients(keyed: Flask) -> dict[str, AppClient]:
    """A client per scope, and one with the session's (legacy admin) key."""
    sessions = {scope: AppClient(keyed, key) for scope, key in KEYS.items()}
    sessions["legacy"] = AppClient(keyed, API_KEY)
    return sessions


ITEM = {
    "input": "Which scope lets me in?",
    "output": "The ingest scope.",
    "rating": 0.9,
    "task_type": "scopes",
}
# A job that ends at once: it selects a task type no interaction has.
QUICK_JOB = {"hyperparameters": {"n_epochs": 1}, "task_types": ["scopes-never-runs"]}


@pytest.fixture(scope="module")
def job_id(clients: dict[str, AppClient]) -> str:
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
    ("jobs", "GET", "/v1/jobs/{job}/report.md", None, {200}),
    # Cancelling: 200 while it runs, 409 once it has ended.
    ("jobs", "POST", "/v1/jobs/{job}/cancel", {}, {200, 409}),
    ("jobs", "GET", "/v1/models", None, {200}),
    ("jobs", "GET", f"/v1/models/{BASELINE}", None, {200}),
    # The baseline's rules are code: nothing stored to download, 409 is the permitted answer.
    ("jobs", "GET", f"/v1/models/{BASELINE}/content", None, {409}),
    ("jobs", "POST", f"/v1/models/{BASELINE}/responses", {"input": "Rain in Oslo?"}, {200}),
]
HOLDERS = ["ingest", "jobs", "admin", "ingest+jobs", "legacy"]


def permitted(holder: str, needed: str) -> bool:
    held = {"legacy": {"admin"}}.get(holder, set(holder.split("+")))
    return "admin" in held or needed in held


def counts(stack: Stack, sent: SentMessages) -> dict[str, int]:
    store = stack.store
    return {
        "interactions": store.interactions.count(),
        "jobs": store.jobs.count(),
        "messages": sent.sent_from_outside(),
    }


@pytest.mark.parametrize("holder", HOLDERS)
@pytest.mark.parametrize(
    ("needed", "method", "path", "body", "ok"),
    ENDPOINTS,
    ids=[f"{m} {p}" for _, m, p, _, _ in ENDPOINTS],
)
def test_each_key_reaches_exactly_the_endpoints_its_scopes_allow(
    clients: dict[str, AppClient],
    stack: Stack,
    sent: SentMessages,
    job_id: str,
    holder: str,
    needed: str,
    method: str,
    path: str,
    body: dict | None,
    ok: set[int],
) -> None:
    before = counts(stack, sent)
    response = clients[holder].request(method, path.format(job=job_id), json=body)
    if permitted(holder, needed):
        assert response.status_code in ok, f"{holder}: {response.status_code} {response.text}"
        return
    problem = assert_problem(response, 403)
    assert f"'{needed}'" in problem["detail"] and "'admin'" in problem["detail"], problem
    assert NAMES[holder] in problem["detail"], problem
    assert "insufficient_scope" in response.headers.get("WWW-Authenticate", "")
    assert KEYS[holder] not in response.text
    assert counts(stack, sent) == before, "a refused request stored or sent something"


@pytest.mark.parametrize(
    "credential",
    ["Bearer not-a-configured-key", f"Bearer {KEYS['ingest']}x", f"Bearer {KEYS['admin'][:-1]}"],
    ids=["unknown key", "key with a suffix", "truncated key"],
)
def test_an_unknown_key_gets_401_with_a_bearer_challenge(
    keyed: Flask, stack: Stack, sent: SentMessages, credential: str
) -> None:
    with AppClient(keyed) as anon:
        for method, path, body in [
            ("GET", "/v1/interactions/stats", None),
            ("POST", "/v1/jobs", QUICK_JOB),
            ("GET", "/v1/models", None),
        ]:
            before = counts(stack, sent)
            response = anon.request(method, path, json=body, headers={"Authorization": credential})
            problem = assert_problem(response, 401)
            assert problem["detail"] == "the bearer key is not valid"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert counts(stack, sent) == before


def test_no_key_gets_401_and_public_endpoints_need_none(keyed: Flask) -> None:
    with AppClient(keyed) as anon:
        problem = assert_problem(anon.get("/v1/jobs"), 401)
        assert problem["detail"] == "missing bearer key"
        for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
            assert anon.get(path).status_code == 200, path


def test_a_permitted_key_on_an_unknown_path_gets_404_not_403(
    clients: dict[str, AppClient],
) -> None:
    assert_problem(clients["ingest"].get("/v1/nothing-here"), 404)


def test_the_openapi_document_names_the_scope_of_each_operation(keyed: Flask) -> None:
    with AppClient(keyed) as anon:
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
        (f"app:{GOOD}:ingest:Team A", "the project must be"),
        (f"app:{GOOD}:ingest:team:a", "the key must be|the project must be|unknown scope"),
        (f"app:{GOOD}:ingest:*", "only an admin key may be given every project"),
        (f"app:{GOOD}:jobs:admin", "ambiguous"),
    ],
)
def test_the_gateway_refuses_to_start_without_a_key_or_with_a_malformed_spec(
    api_keys: str, complaint: str
) -> None:
    with pytest.raises(RuntimeError, match=complaint) as raised:
        create_app(settings=settings_with(api_keys=api_keys))
    assert GOOD not in str(raised.value), "the error message shows a key"


def test_each_key_belongs_to_its_project_and_an_entry_without_one_to_default() -> None:
    spec = (
        f"a:{GOOD}:ingest+jobs:team-a, b:x:y{'b' * 30}:jobs:team-b, "
        f"old:{'o' * 32}:ingest, ops:{'p' * 32}:admin:*"
    )
    app = create_app(settings=settings_with(api_keys=spec))
    keys = {key.name: key for key in app.extensions["tuneloop"].api_keys}
    assert {name: key.project for name, key in keys.items()} == {
        "a": "team-a",
        "b": "team-b",  # a key may hold ':'; the project is the last field
        "old": "default",
        "ops": "*",
    }
    assert keys["a"].scopes == frozenset({"ingest", "jobs"})
    assert app.extensions["tuneloop"].projects == frozenset({"default", "team-a", "team-b"})


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
