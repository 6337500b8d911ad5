"""Bearer-key authentication, seen from outside the gunicorn gateway."""

import pytest

from .support import API_KEY, ApiClient, assert_problem

pytestmark = pytest.mark.integration

VALID_INTERACTION = {
    "input": "How do I reset my router?",
    "output": "Hold the reset button for ten seconds.",
    "rating": 0.9,
    "task_type": "auth-check",
}

# (method, path, JSON body) of every endpoint that needs the key.
PROTECTED = [
    ("GET", "/v1/interactions", None),
    ("POST", "/v1/interactions", VALID_INTERACTION),
    ("POST", "/v1/interactions/batch", {"items": [VALID_INTERACTION]}),
    ("GET", "/v1/interactions/stats", None),
    ("GET", "/v1/jobs", None),
    ("POST", "/v1/jobs", {"hyperparameters": {"n_epochs": 1}}),
    ("GET", "/v1/jobs/ftjob-000000000000000000000000", None),
    ("GET", "/v1/jobs/ftjob-000000000000000000000000/events", None),
    ("GET", "/v1/jobs/ftjob-000000000000000000000000/training_file", None),
    ("GET", "/v1/models", None),
    ("GET", "/v1/models/tuneloop-keyword-baseline", None),
    ("POST", "/v1/models/tuneloop-keyword-baseline/responses", {"input": "Will it rain?"}),
    ("GET", "/v1/no-such-endpoint", None),
]

# What an Authorization header may wrongly hold (None: no header at all).
BAD_CREDENTIALS = {
    "no header": None,
    "empty header": "",
    "wrong key": "Bearer not-the-key",
    "key with a suffix": f"Bearer {API_KEY}x",
    "basic scheme": f"Basic {API_KEY}",
    "token scheme": f"Token {API_KEY}",
    "key without scheme": API_KEY,
    "scheme without key": "Bearer",
}


@pytest.mark.parametrize("credential", list(BAD_CREDENTIALS.values()), ids=list(BAD_CREDENTIALS))
@pytest.mark.parametrize(
    ("method", "path", "body"), PROTECTED, ids=[f"{m} {p}" for m, p, _ in PROTECTED]
)
def test_requests_without_the_right_bearer_key_get_401_problem_and_store_nothing(
    anon: ApiClient, counts, method: str, path: str, body: dict | None, credential: str | None
) -> None:
    before = counts()
    headers = {} if credential is None else {"Authorization": credential}
    response = anon.request(method, path, json=body, headers=headers)
    problem = assert_problem(response, 401)
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), response.headers
    expected = "missing bearer key" if not credential else "the bearer key is not valid"
    assert problem["detail"] == expected
    assert API_KEY not in response.text
    assert counts() == before


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_right_key_is_accepted_whatever_the_scheme_case(anon: ApiClient, scheme: str) -> None:
    response = anon.get("/v1/models", headers={"Authorization": f"{scheme} {API_KEY}"})
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "list"


def test_health_and_readiness_answer_without_a_key(anon: ApiClient) -> None:
    health = anon.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json() == {"status": "ok"}
    ready = anon.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert ready.json()["workers"], ready.json()


def test_the_openapi_document_the_docs_html_and_its_script_are_served_without_a_key(
    anon: ApiClient,
) -> None:
    # This checks only that the files are served without a key; test_docs_browser.py checks
    # in headless Chromium that /docs renders every operation.
    spec = anon.get("/openapi.json")
    assert spec.status_code == 200, spec.text
    assert spec.json()["openapi"].startswith("3.")
    docs = anon.get("/docs")
    assert docs.status_code == 200, docs.text
    assert "text/html" in docs.headers["Content-Type"]
    assert "swagger-ui" in docs.text
    # The Swagger UI script is served locally, also without a key.
    asset = anon.get("/docs/static/swagger-ui-bundle.js")
    assert asset.status_code == 200, asset.status_code
    assert len(asset.content) > 1000


def test_public_endpoints_ignore_a_wrong_key(anon: ApiClient) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        response = anon.get(path, headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
