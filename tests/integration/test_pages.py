"""The report pages (/ui) over HTTP: login, cookie, CSRF, scopes, rate limit, a real job's report.

Cookie flags and pages are read from the session stack's gunicorn gateway; what needs other keys
or settings (an ingest-only key, a tiny rate limit, https) runs the same app in this process on
the session's Redis and worker.
"""

import hashlib
import json
import re
from collections.abc import Iterator

import pytest
from flask import Flask

from tuneloop.store import keys

from .support import (
    API_KEY,
    ApiClient,
    Stack,
    create_job,
    evaluate_model,
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
    gate = [{"metric": "task_accuracy", "min_delta": 0.0}]
    job_id = create_job(client, 6, holdout_fraction=0.25, suffix="pages", promote_if=gate)
    return wait_for_job(client, stack, job_id)


@pytest.fixture(scope="module")
def evaluation_job(client: ApiClient, stack: Stack, finished_job: dict) -> dict:
    """A real evaluation job: the finished job's model against the baseline."""
    return evaluate_model(client, stack, finished_job["result"]["model_id"])


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
    assert f'<a id="model-link" href="/ui/models/{result["model_id"]}"' in html
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


SECTIONS = ("verdict", "setup", "losses", "metrics", "tasks", "confusions", "calibration")


def section_order(html: str) -> list[str]:
    """The report sections of a job page, in the order the page has them."""
    found = re.findall(r'<section class="card report-section" id="([a-z-]+)"', html)
    return [s for s in found if s in SECTIONS]


def test_job_page_leads_with_the_verdict_then_setup_metrics_confusions_calibration(
    logged_in: ApiClient, finished_job: dict
) -> None:
    html, result = logged_in.get(f"/ui/jobs/{finished_job['id']}").text, finished_job["result"]
    assert section_order(html) == list(SECTIONS)
    assert html.index('id="verdict"') < html.index('id="losses"') < html.index('id="events"')
    sig = result["significance"]
    assert sig["verdict"] in html
    p = re.search(r'id="p-value">([^<]+)<', html).group(1)
    assert p.startswith(("p = ", "p < ")) and p != "p = 0"
    promotion = re.search(r'id="promotion" class="promotion ([a-z-]+)"', html).group(1)
    assert promotion == ("promoted" if result["promotion"]["promoted"] else "not-promoted")
    assert result["promotion"]["reason"] in html
    for name, used in finished_job["hyperparameters"].items():
        row = re.search(rf'<tr data-name="{name}"><td>{name}</td><td class="mono">([^<]*)<', html)
        assert row and row.group(1) == (used if isinstance(used, str) else json.dumps(used))
    assert '<tr data-name="suffix"><th>suffix</th><td class="mono wrap">pages</td>' in html


def test_per_task_table_has_a_change_column_of_fine_tuned_minus_baseline(
    logged_in: ApiClient, finished_job: dict
) -> None:
    html, result = logged_in.get(f"/ui/jobs/{finished_job['id']}").text, finished_job["result"]
    base = result["baseline_metrics"]["by_task_type"]
    tuned = result["fine_tuned_metrics"]["by_task_type"]
    changes = dict(
        re.findall(r'<tr data-task="([^"]+)">.*?class="change[^"]*">([^<]+)<', html, re.S)
    )
    assert set(changes) == set(base) | set(tuned)
    for task, shown in changes.items():
        expected = tuned[task]["task_accuracy"] - base[task]["task_accuracy"]
        assert shown == f"{expected:+.3f}"
    assert 'class="sortable compact"' in html and 'data-filters="task-table"' in html
    assert "<script>" not in html  # sorting comes from /ui/static/tables.js (CSP)


def wrong_cases(client: ApiClient, job_id: str, limit: int = 2) -> list[dict]:
    """Read every wrong case of a job through the API, page by page."""
    found: list[dict] = []
    while True:
        after = {"after": found[-1]["index"]} if found else {}
        page = client.get(
            f"/v1/jobs/{job_id}/cases", params={"outcome": "wrong", "limit": limit, **after}
        )
        assert page.status_code == 200, page.text
        found += page.json()["data"]
        if not page.json()["has_more"]:
            return found


def test_every_case_the_fine_tuned_agent_got_wrong_is_listed_by_the_api_and_the_page(
    client: ApiClient, logged_in: ApiClient, finished_job: dict
) -> None:
    job_id, result = finished_job["id"], finished_job["result"]
    mcnemar = result["significance"]["mcnemar"]
    wrong = wrong_cases(client, job_id)
    assert len(wrong) == result["cases"]["wrong"] > result["cases"]["regressed"]
    assert len(wrong) == mcnemar["baseline_only_correct"] + mcnemar["both_wrong"]
    assert all(c["fine_tuned"]["task_type"] != c["expected_type"] for c in wrong)
    indexes = [c["index"] for c in wrong]
    assert indexes == sorted(set(indexes))
    shown, url = [], f"/ui/jobs/{job_id}/cases?outcome=wrong&limit=3"
    while url:
        page = logged_in.get(url)
        assert page.status_code == 200, page.text
        shown += [int(i) for i in re.findall(r'class="case-row" data-index="(\d+)"', page.text)]
        more = re.search(r'id="next-page" href="([^"]+)"', page.text)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert shown == indexes
    job_page = logged_in.get(f"/ui/jobs/{job_id}").text
    assert f'href="/ui/jobs/{job_id}/cases?outcome=wrong">{len(wrong)} wrong</a>' in job_page


def test_a_job_compared_before_wrong_cases_were_kept_answers_409_naming_it(
    client: ApiClient, logged_in: ApiClient, finished_job: dict, stack: Stack
) -> None:
    job_id, redis = finished_job["id"], stack.store.redis
    stored = redis.hget(keys.job(job_id), "result")
    older = json.loads(stored)
    del older["cases"]["wrong"]
    redis.hset(keys.job(job_id), "result", json.dumps(older))
    try:
        api = client.get(f"/v1/jobs/{job_id}/cases", params={"outcome": "wrong"})
        page = logged_in.get(f"/ui/jobs/{job_id}/cases?outcome=wrong")
        regressed = client.get(f"/v1/jobs/{job_id}/cases", params={"outcome": "regressed"})
    finally:
        redis.hset(keys.job(job_id), "result", stored)
    assert api.status_code == 409 and "did not keep its wrong cases" in api.json()["detail"]
    assert page.status_code == 409 and "did not keep its wrong cases" in page.text
    assert regressed.status_code == 200


def test_the_cases_page_names_a_bad_outcome(logged_in: ApiClient, finished_job: dict) -> None:
    page = logged_in.get(f"/ui/jobs/{finished_job['id']}/cases?outcome=lost")
    assert page.status_code == 400 and "outcome" in page.text


def test_an_evaluation_page_names_both_models_and_shows_no_epochs(
    logged_in: ApiClient, evaluation_job: dict, finished_job: dict
) -> None:
    html = logged_in.get(f"/ui/jobs/{evaluation_job['id']}").text
    a, b = evaluation_job["request"]["model_a"], evaluation_job["request"]["model_b"]
    assert b == finished_job["result"]["model_id"]
    assert f'<a id="model-a-link" href="/ui/models/{a}"' in html
    assert f'<a id="model-b-link" href="/ui/models/{b}"' in html
    assert 'id="losses"' not in html and "No epoch" not in html
    assert section_order(html) == [s for s in SECTIONS if s != "losses"]


def test_jobs_list_tells_jobs_apart_by_name_models_metric_verdict_and_duration(
    logged_in: ApiClient, finished_job: dict, evaluation_job: dict
) -> None:
    html = logged_in.get("/ui/jobs").text
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<tr class="job-row" data-job-id="([^"]+)".*?</tr>', html, re.S)
    }
    tuned, evaluation = rows[finished_job["id"]], rows[evaluation_job["id"]]
    result = finished_job["result"]
    assert f">{finished_job['id']}</a>" in tuned  # the full id, never cut
    assert 'class="job-name">pages<' in tuned
    assert ">tuneloop-keyword-baseline</a>" in tuned and f">{result['model_id']}</a>" in tuned
    accuracy = (
        result["baseline_metrics"]["task_accuracy"],
        result["fine_tuned_metrics"]["task_accuracy"],
    )
    assert f"{accuracy[0]:.3f} → {accuracy[1]:.3f}" in tuned
    assert "promoted" in re.search(r'class="verdict-cell">([^<]+)<', tuned).group(1)
    assert re.search(r'class="duration">\d+ s<', tuned)
    assert f">{evaluation_job['request']['model_b']}</a>" in evaluation
