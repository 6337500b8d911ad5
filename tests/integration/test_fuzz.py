"""Fuzz every operation of the OpenAPI document against the gunicorn gateway: never a 5xx.

schemathesis generates requests for each operation from the document the gateway serves,
in three phases: the document's examples, a coverage phase (boundary values, every missing
or wrongly typed field, undeclared methods) and a fuzzing phase (random valid and invalid
data, a bounded number of examples). Each request goes to the session stack's gunicorn
gateway with the bearer key, and each answer must be no 5xx and, for a documented status,
match the documented content type and response schema. A failure prints a curl command that
reproduces the request.

Generation is deterministic (a fixed seed, derandomized, no example database), so CI sees
the same requests on every run.

The tests are built when this module is collected, from the document the gateway's own app
factory renders (test_the_fuzzed_document_is_the_one_the_gateway_serves checks that it is
the one gunicorn serves). schemathesis' lazy `from_fixture` loader cannot be used with the
pinned pytest (it reads Node._nodeid, which pytest 9.2 no longer has), and its
`@schema.parametrize()` gives every operation of one test function the same node id under
pytest 9.2; so each operation gets a test function of its own, named after it.
"""

import re
from collections.abc import Callable, Iterator

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tuneloop.settings import Settings
from tuneloop_gateway.app import create_app

from .support import API_KEY, ApiClient, Stack, child_env, wait_for_job, wait_worker_idle

pytestmark = pytest.mark.integration

SEED = 20_240_601
REQUEST_TIMEOUT = 30.0
JSON = "application/json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
JOBS = "/v1/jobs"
BASELINE = "tuneloop-keyword-baseline"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def render_document() -> tuple[dict, str | None]:
    """Return the OpenAPI document the session's gateway renders, or why it could not.

    The app is built from the environment the session stack gives gunicorn, so the document
    is rendered from the same settings; rendering it connects to nothing.
    """
    try:
        env = {**child_env(), "REDIS_URL": "redis://127.0.0.1:9/0", "TUNELOOP_API_KEY": API_KEY}
        app = create_app(settings=Settings.from_env(env))
        response = app.test_client().get("/openapi.json")
        if response.status_code != 200:
            return {}, f"GET /openapi.json answered {response.status_code}"
        return response.get_json(), None
    except Exception as exc:  # reported by a test below instead of breaking collection
        return {}, f"{type(exc).__name__}: {exc}"


DOCUMENT, DOCUMENT_ERROR = render_document()
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["too_slow"],  # timing depends on the machine, not the API
        "request-timeout": REQUEST_TIMEOUT,
        "generation": {"max-examples": 25, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        # Half the generated model ids are the baseline's, so the fuzzed inputs reach a worker.
        "dictionaries": {"models": {"values": [BASELINE]}},
        "parameters": {"path.model_id": {"dictionary": "models", "probability": 0.5}},
        "operations": [
            # Every accepted job is cancelled at once (see fuzz_one), so it costs the worker
            # next to nothing; fewer random examples still keep the coverage phase's ~200
            # systematic cases for this operation and bound the jobs created per run.
            {
                "include-name": f"POST {JOBS}",
                "generation": {"max-examples": 10},
            },
        ],
    }
)


@pytest.fixture(scope="module")
def session(stack: Stack) -> Iterator[requests.Session]:
    """A requests session sending the stack's bearer key, ignoring proxy settings."""
    with requests.Session() as fuzz_session:
        fuzz_session.trust_env = False
        fuzz_session.headers["Authorization"] = f"Bearer {stack.api_key}"
        yield fuzz_session


@pytest.fixture(scope="module", autouse=True)
def worker_left_idle(stack: Stack) -> Iterator[None]:
    """Hand the next module a worker with nothing left to do from this one."""
    yield
    wait_worker_idle(stack, timeout=60.0)


def cancel_job(session: requests.Session, stack: Stack, job_id: str) -> requests.Response:
    """Cancel a job with a bare POST: no body, no content type."""
    return session.post(f"{stack.base_url}{JOBS}/{job_id}/cancel", timeout=REQUEST_TIMEOUT)


def fuzz_one(case: schemathesis.Case, session: requests.Session, stack: Stack) -> None:
    """Send one generated request; fail on a 5xx or an answer unlike the document."""
    response = case.call(base_url=stack.base_url, session=session, timeout=REQUEST_TIMEOUT)
    if case.method == "POST" and case.path == JOBS and response.status_code == 202:
        # A fuzzed job may ask for 200 epochs on 10,000 evaluation cases: cancel it before
        # its stages run, so the fuzz does not flood the session's worker.
        job_id = response.json()["id"]
        cancelled = cancel_job(session, stack, job_id)
        assert cancelled.status_code in (200, 409), f"cancel {job_id}: {cancelled.text[:300]}"
    case.validate_response(response, checks=CHECKS)


def operation_test(method: str, path: str) -> tuple[str, Callable]:
    """Build the fuzz test of one operation, named after it."""
    slug = re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")
    name = f"test_{method}_{slug}_never_answers_a_server_error_or_an_undocumented_body"

    def test(case: schemathesis.Case, session: requests.Session, stack: Stack) -> None:
        fuzz_one(case, session, stack)

    test.__name__ = test.__qualname__ = name
    test.__doc__ = f"Fuzz {method.upper()} {path} from the OpenAPI document."
    schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
    # An exclude, not an include: the config's [[operations]] entry adds an include that
    # matches every operation, and includes are OR-ed.
    label = f"{method.upper()} {path}"
    only_this = schema.exclude(func=lambda ctx: ctx.operation.label != label)
    return name, only_this.parametrize()(test)


OPERATIONS = [
    (method, path)
    for path, item in DOCUMENT.get("paths", {}).items()
    for method in item
    if method in HTTP_METHODS
]
for _method, _path in OPERATIONS:
    _name, _test = operation_test(_method, _path)
    globals()[_name] = _test


@pytest.fixture(scope="module")
def finished(client: ApiClient, stack: Stack) -> dict[str, str]:
    """Ids of a job over the lab's synthetic examples, run to success, and of its model."""
    created = client.post(
        JOBS,
        json={
            "task_types": ["weather", "travel", "general"],
            "include_synthetic": True,
            "lab_eval_set": True,
            "hyperparameters": {"n_epochs": 2},
        },
    )
    assert created.status_code == 202, created.text[:300]
    job = wait_for_job(client, stack, created.json()["id"], expect="succeeded")
    return {"job_id": job["id"], "model_id": job["model_id"]}


# Requests about real records, so that the answers the fuzz cannot reach (a real job with its
# result, events and training file, a fine-tuned model) are checked against the document too.
REAL_REQUESTS = [
    ("GET", "/v1/jobs/{job_id}", {}, None),
    ("GET", JOBS, {"limit": 5}, None),
    ("GET", "/v1/jobs/{job_id}/events", {"limit": 1000}, None),
    ("GET", "/v1/jobs/{job_id}/training_file", {}, None),
    ("GET", "/v1/models", {}, None),
    ("GET", "/v1/models/{model_id}", {}, None),
    ("POST", "/v1/models/{model_id}/responses", {}, {"input": "Will it rain in Oslo?"}),
    ("GET", "/v1/interactions", {"limit": 5}, None),
    ("GET", "/v1/interactions/stats", {}, None),
]


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    REAL_REQUESTS,
    ids=[f"{method} {path}" for method, path, _, _ in REAL_REQUESTS],
)
def test_answers_about_a_real_job_and_model_match_the_document(
    session: requests.Session,
    stack: Stack,
    finished: dict[str, str],
    method: str,
    path: str,
    query: dict,
    body: dict | None,
) -> None:
    schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
    parameters = {name: value for name, value in finished.items() if f"{{{name}}}" in path}
    extra = {"body": body, "media_type": JSON} if body is not None else {}
    case = schema[path][method].Case(path_parameters=parameters, query=query, **extra)
    response = case.call(base_url=stack.base_url, session=session, timeout=REQUEST_TIMEOUT)
    assert 200 <= response.status_code < 300, f"{response.status_code}: {response.text[:300]}"
    case.validate_response(response, checks=CHECKS)


def test_the_fuzzed_document_is_the_one_the_gateway_serves(anon: ApiClient) -> None:
    assert DOCUMENT_ERROR is None, f"the gateway's OpenAPI document: {DOCUMENT_ERROR}"
    served = anon.get("/openapi.json")
    assert served.status_code == 200, served.text[:300]
    assert served.json() == DOCUMENT
    assert len(OPERATIONS) >= 15, OPERATIONS


def test_cancelling_a_finished_job_answers_its_documented_409(
    session: requests.Session, stack: Stack, client: ApiClient
) -> None:
    created = session.post(
        f"{stack.base_url}{JOBS}",
        json={"hyperparameters": {"n_epochs": 1}, "task_types": ["fuzz-never-runs"]},
        timeout=REQUEST_TIMEOUT,
    )
    assert created.status_code == 202, created.text[:300]
    job_id = created.json()["id"]
    wait_for_job(client, stack, job_id, expect="failed")
    schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
    cancel = schema[f"{JOBS}/{{job_id}}/cancel"]["POST"]
    response = cancel_job(session, stack, job_id)
    assert response.status_code == 409, response.text[:300]
    cancel.Case(path_parameters={"job_id": job_id}).validate_response(response, checks=CHECKS)


@pytest.mark.parametrize(
    ("schema_name", "field"),
    [("JobIn", "holdout_fraction"), ("Hyperparameters", "learning_rate")],
)
def test_the_document_marks_the_exclusive_lower_bounds_the_gateway_enforces(
    schema_name: str, field: str
) -> None:
    documented = DOCUMENT["components"]["schemas"][schema_name]["properties"][field]
    numeric = [b for b in documented.get("oneOf", [documented]) if b.get("type") == "number"]
    assert [b.get("exclusiveMinimum") for b in numeric] == [0], documented
