"""Every answer carries an X-Request-ID, and gunicorn's access log prints it."""

import re

import pytest

from .support import ApiClient, AppClient, Stack, wait_until

pytestmark = pytest.mark.integration

MADE = re.compile(r"[0-9a-f]{32}")


def test_an_answer_without_a_client_id_gets_a_new_one_each_time(app_client: AppClient) -> None:
    ids = [app_client.get("/v1/jobs").headers["X-Request-ID"] for _ in range(2)]
    assert all(MADE.fullmatch(i) for i in ids), ids
    assert ids[0] != ids[1]


def test_a_well_formed_client_id_is_kept(app_client: AppClient) -> None:
    response = app_client.get("/v1/jobs", headers={"X-Request-ID": "client-42.retry:1"})
    assert response.status_code == 200  # the hook only names the request, never answers it
    assert response.headers["X-Request-ID"] == "client-42.retry:1"


@pytest.mark.parametrize("given", ["has spaces", "x" * 129, "semi;colon", ""])
def test_a_malformed_client_id_is_replaced(app_client: AppClient, given: str) -> None:
    response = app_client.get("/v1/jobs", headers={"X-Request-ID": given})
    assert MADE.fullmatch(response.headers["X-Request-ID"]), response.headers


def test_a_refused_request_has_an_id_too(stack: Stack, anon: ApiClient) -> None:
    response = anon.get("/v1/jobs", headers={"X-Request-ID": "refused-1"})
    assert response.status_code == 401, (response.request.headers, response.text[:200])
    assert response.headers["X-Request-ID"] == "refused-1"


def test_the_access_log_names_the_request_id(stack: Stack, client: ApiClient) -> None:
    response = client.get("/v1/jobs", headers={"X-Request-ID": "logged-7f3a"})
    assert response.status_code == 200
    wait_until(
        lambda: (
            'GET /v1/jobs HTTP/1.1" 200' in stack.log_text("gateway")
            and "request_id=logged-7f3a" in stack.log_text("gateway")
        ),
        10.0,
        lambda: f"the access-log line of the request\n{stack.logs()}",
        interval=0.2,
    )
