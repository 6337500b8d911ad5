"""The report pages (/ui) over HTTP: login, cookie, CSRF, scopes, rate limit, a real job's report.

Cookie flags and pages are read from the session stack's gunicorn gateway; what needs other keys
or settings (an ingest-only key, a tiny rate limit, https) runs the same app in this process on
the session's Redis and worker.
"""

import hashlib
import re
from collections.abc import Iterator

import pytest
from flask import Flask

from .support import (
    API_KEY,
    ApiClient,
    Stack,
    create_job,
    gateway_app,
    seed_interactions,
    wait_for_job,
)
from .support.pages import csrf_of, login

INGEST_KEY, JOBS_KEY = "pages-ingest-key-0123456789", "pages-jobs-key-0123456789"
EXTRA_KEYS = f"ingester:{INGEST_KEY}:ingest,viewer:{JOBS_KEY}:jobs"


@pytest.fixture
def browser(stack: Stack) -> Iterator[ApiClient]:
    """A session without a bearer key, as a browser is."""
    with ApiClient(stack.base_url) as session:
        yield session


@pytest.fixture
def logged_in(browser: ApiClient, stack: Stack) -> ApiClient:
    """A browser session logged in with the stack's admin key."""
    assert login(browser, stack.base_url).status_code == 303
    return browser


@pytest.fixture(scope="module")
def finished_job(client: ApiClient, stack: Stack) -> dict:
    """A real fine-tuning job of the session stack, succeeded, with held-out evaluation cases."""
    seed_interactions(client)
    job_id = create_job(client, 6, holdout_fraction=0.25)
    return wait_for_job(client, stack, job_id)


@pytest.fixture(scope="module")
def local_app(stack: Stack) -> Iterator[Flask]:
    """The gateway app in this process with an ingest-only and a jobs-only key, 3 calls a minute."""
    env = stack.env(TUNELOOP_API_KEYS=EXTRA_KEYS, TUNELOOP_RATE_LIMIT="3/minute")
    with gateway_app(env) as app:
        yield app


def local_login(app: Flask, key: str, base_url: str = "http://localhost") -> object:
    """Log a Flask test client in with key; return the client and the POST's answer."""
    web = app.test_client()
    form = web.get("/ui/login", base_url=base_url)
    data = {"csrf_token": csrf_of(form.text), "api_key": key}
    return web, web.post("/ui/login", data=data, base_url=base_url)


def test_pages_without_a_session_send_to_the_login_page(browser: ApiClient) -> None:
    response = browser.get("/ui/jobs?status=running", allow_redirects=False)
    assert response.status_code == 303
    assert response.headers["Location"] == "/ui/login?next=/ui/jobs?status%3Drunning"
    assert browser.get("/ui/jobs/x/live.json").status_code == 401


def test_login_sets_an_httponly_samesite_strict_cookie_that_holds_no_key(
    browser: ApiClient, stack: Stack
) -> None:
    response = login(browser, stack.base_url)
    assert response.status_code == 303 and response.headers["Location"] == "/ui/jobs"
    cookie = next(c for c in response.headers["Set-Cookie"].split(", tuneloop") if "session=" in c)
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags and "path=/ui" in flags
    assert "secure" not in flags  # plain http here; see the https test
    value = browser.cookies["tuneloop_session"]
    digest = hashlib.sha256(API_KEY.encode()).hexdigest()
    assert API_KEY not in value and digest not in value
    stored = {k: stack.store.redis.hgetall(k) for k in stack.store.redis.keys("tuneloop:ui:*")}
    assert stored and not any(API_KEY in str(v) or digest in str(v) for v in stored.items())
    assert browser.get("/ui/jobs").status_code == 200


def test_login_over_https_marks_the_cookie_secure(local_app: Flask) -> None:
    _, response = local_login(local_app, JOBS_KEY, base_url="https://localhost")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "tuneloop_session=" in c)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_login_with_an_unknown_key_starts_no_session(browser: ApiClient, stack: Stack) -> None:
    response = login(browser, stack.base_url, key="not-a-key-of-this-gateway")
    assert response.status_code == 401 and "That key is not valid." in response.text
    assert "tuneloop_session" not in browser.cookies
    assert browser.get("/ui/jobs", allow_redirects=False).status_code == 303


def test_login_without_the_forms_csrf_token_is_refused(browser: ApiClient) -> None:
    browser.get("/ui/login")  # sets the login CSRF cookie
    data = {"csrf_token": "forged", "api_key": API_KEY}
    response = browser.post("/ui/login", data=data, allow_redirects=False)
    assert response.status_code == 403 and "CSRF" in response.text
    assert "tuneloop_session" not in browser.cookies


def test_cancel_and_ask_without_the_sessions_csrf_token_are_refused(
    logged_in: ApiClient, finished_job: dict
) -> None:
    cancel = logged_in.post(f"/ui/jobs/{finished_job['id']}/cancel", data={"csrf_token": "x"})
    ask = logged_in.post("/ui/models/tuneloop-keyword-baseline/ask", data={"input": "Rain?"})
    for response in (cancel, ask):
        assert response.status_code == 403 and "CSRF token" in response.text


def test_cancel_with_the_token_on_a_finished_job_says_it_had_finished(
    logged_in: ApiClient, finished_job: dict
) -> None:
    page = logged_in.get(f"/ui/jobs/{finished_job['id']}")
    data = {"csrf_token": csrf_of(page.text)}
    response = logged_in.post(f"/ui/jobs/{finished_job['id']}/cancel", data=data)
    assert response.status_code == 200 and "had already finished" in response.text


def test_the_session_cookie_opens_no_api_endpoint(logged_in: ApiClient, finished_job: dict) -> None:
    # Sent by hand: a browser would not even send it outside /ui (its Path).
    cookie = {"Cookie": f"tuneloop_session={logged_in.cookies['tuneloop_session']}"}
    with ApiClient(logged_in.base_url) as other:
        assert other.get(f"/ui/jobs/{finished_job['id']}", headers=cookie).status_code == 200
        assert other.get(f"/v1/jobs/{finished_job['id']}", headers=cookie).status_code == 401
        cancel = other.post(f"/v1/jobs/{finished_job['id']}/cancel", headers=cookie)
        assert cancel.status_code == 401


def test_logout_ends_the_session_even_for_a_copy_of_the_cookie(
    logged_in: ApiClient, stack: Stack
) -> None:
    copied = logged_in.cookies["tuneloop_session"]
    page = logged_in.get("/ui/jobs")
    response = logged_in.post("/ui/logout", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 200 and 'id="login-form"' in response.text
    with ApiClient(stack.base_url) as other:
        other.cookies.set("tuneloop_session", copied)
        assert other.get("/ui/jobs", allow_redirects=False).status_code == 303


def test_login_sends_only_to_pages_of_this_site(browser: ApiClient, stack: Stack) -> None:
    form = browser.get("/ui/login?next=//evil.example/ui/")
    assert 'name="next" value="/ui/jobs"' in form.text
    data = {"csrf_token": csrf_of(form.text), "api_key": API_KEY, "next": "https://evil.example/"}
    response = browser.post("/ui/login", data=data, allow_redirects=False)
    assert response.headers["Location"] == "/ui/jobs"


def test_a_key_without_the_jobs_scope_may_log_in_but_sees_no_page(local_app: Flask) -> None:
    web, response = local_login(local_app, INGEST_KEY)
    assert response.status_code == 303
    for path in ("/ui/jobs", "/ui/models/tuneloop-keyword-baseline"):
        page = web.get(path)
        assert page.status_code == 403 and "lacks the &#39;jobs&#39; scope" in page.text


def test_pages_count_against_the_keys_rate_limit(local_app: Flask) -> None:
    web, _ = local_login(local_app, JOBS_KEY)
    answers = [web.get("/ui/jobs").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_job_page_shows_a_real_jobs_report(logged_in: ApiClient, finished_job: dict) -> None:
    page = logged_in.get(f"/ui/jobs/{finished_job['id']}")
    assert page.status_code == 200
    html, result = page.text, finished_job["result"]
    assert "Content-Security-Policy" in page.headers and page.headers["Cache-Control"] == "no-store"
    epochs = len(result["epochs"])
    assert len(re.findall(r'data-series="train" data-epoch="\d+"', html)) == epochs
    assert len(re.findall(r'data-series="valid" data-epoch="\d+"', html)) == epochs
    assert html.count('class="bar baseline"') == html.count('class="bar fine_tuned"') >= 4
    for task in result["training_data"]["task_distribution"]:
        assert f'<tr data-task="{task}">' in html
    assert 'id="dropped-table"' in html or 'id="dropped-none"' in html
    assert f'<a id="model-link" href="/ui/models/{result["model_id"]}">' in html
    assert 'data-type="job.succeeded"' in html and 'id="cancel"' not in html


def test_jobs_list_filters_by_status_and_kind(logged_in: ApiClient, finished_job: dict) -> None:
    row = f'data-job-id="{finished_job["id"]}"'
    assert row in logged_in.get("/ui/jobs?status=succeeded&kind=fine_tuning").text
    assert row not in logged_in.get("/ui/jobs?status=failed").text
    assert row not in logged_in.get("/ui/jobs?kind=evaluation").text
    bad = logged_in.get("/ui/jobs?status=bogus")
    assert bad.status_code == 200 and 'id="filter-error"' in bad.text


def test_model_page_shows_the_answer_confidence_and_reasoning(
    logged_in: ApiClient, finished_job: dict
) -> None:
    path = f"/ui/models/{finished_job['result']['model_id']}"
    page = logged_in.get(path)
    data = {"csrf_token": csrf_of(page.text), "input": "Will it snow in Oslo tomorrow?"}
    answered = logged_in.post(f"{path}/ask", data=data)
    assert answered.status_code == 200, answered.text
    for part in ("answer-text", "answer-confidence", "answer-reasoning", "answer-task"):
        assert f'id="{part}"' in answered.text
    empty = logged_in.post(f"{path}/ask", data={**data, "input": ""})
    assert empty.status_code == 422 and 'id="ask-error"' in empty.text
