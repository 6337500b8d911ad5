"""Signing in to the report pages: the form's token is bound to the browser's pre-session
cookie, and failed sign-ins are throttled per client address.

The binding is checked on the session stack's gunicorn gateway, as a browser meets it; what
needs https, a clock an hour on, other client addresses or a small limit runs the same app in
this process (Flask's test client, whose REMOTE_ADDR each test sets) on the session's Redis.
"""

import re
import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tuneloop_gateway.pages import session

from .support import API_KEY, ApiClient, Stack, gateway_app

pytestmark = pytest.mark.integration

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
VIEWER_KEY = "login-viewer-key-0123456789abcdef"
WRONG_KEY = "not-a-key-of-this-gateway-0123456789"
FAILURES = 3  # TUNELOOP_LOGIN_FAILURE_LIMIT of the app in this process: 3 a minute


def csrf_of(html: str) -> str:
    """The login form's CSRF token."""
    found = CSRF.search(html)
    assert found, f"no CSRF token in the page: {html[:500]}"
    return found.group(1)


@pytest.fixture
def browser(stack: Stack) -> Iterator[ApiClient]:
    """A session without a bearer key, as a browser is."""
    with ApiClient(stack.base_url) as session_:
        yield session_


@pytest.fixture(scope="module")
def login_app(stack: Stack) -> Iterator[Flask]:
    """The gateway app in this process with a jobs key and 3 failed sign-ins a minute."""
    env = stack.env(
        TUNELOOP_API_KEYS=f"viewer:{VIEWER_KEY}:jobs",
        TUNELOOP_LOGIN_FAILURE_LIMIT=f"{FAILURES}/minute",
    )
    with gateway_app(env) as app:
        yield app


def client_at(app: Flask, address: str) -> FlaskClient:
    """A test client whose requests come from address."""
    web = app.test_client()
    web.environ_base["REMOTE_ADDR"] = address
    return web


def sign_in(web: FlaskClient, key: str, base_url: str = "http://localhost") -> TestResponse:
    """Load the login form and post it with key."""
    form = web.get("/ui/login", base_url=base_url)
    assert form.status_code == 200, form.text
    return web.post(
        "/ui/login", data={"csrf_token": csrf_of(form.text), "api_key": key}, base_url=base_url
    )


def test_login_refuses_a_csrf_pair_the_gateway_did_not_sign(browser: ApiClient) -> None:
    # What a planted cookie does: the attacker picks the cookie's value and sends it as the token.
    browser.get("/ui/login")
    planted = list(browser.cookies)
    assert planted, "the login page set no cookie"
    for cookie in planted:
        browser.cookies.set(cookie.name, "attacker-chosen", domain=cookie.domain, path=cookie.path)
    data = {"csrf_token": "attacker-chosen", "api_key": API_KEY}
    response = browser.post("/ui/login", data=data, allow_redirects=False)
    assert response.status_code == 403 and "CSRF token" in response.text, response.text
    assert "tuneloop_session" not in browser.cookies


def test_a_login_token_holds_only_with_the_cookie_it_was_issued_with(stack: Stack) -> None:
    with ApiClient(stack.base_url) as mine, ApiClient(stack.base_url) as theirs:
        mine.get("/ui/login")
        their_token = csrf_of(theirs.get("/ui/login").text)
        data = {"csrf_token": their_token, "api_key": API_KEY}
        response = mine.post("/ui/login", data=data, allow_redirects=False)
        assert response.status_code == 403, response.text
        assert "does not belong to this browser" in response.text
        assert "tuneloop_session" not in mine.cookies


def test_login_without_the_login_pages_cookie_is_refused(browser: ApiClient) -> None:
    token = csrf_of(browser.get("/ui/login").text)
    browser.cookies.clear()
    data = {"csrf_token": token, "api_key": API_KEY}
    response = browser.post("/ui/login", data=data, allow_redirects=False)
    assert response.status_code == 403 and "did not send it" in response.text, response.text


def test_the_login_forms_token_is_not_the_cookies_value(browser: ApiClient) -> None:
    token = csrf_of(browser.get("/ui/login").text)
    cookie = browser.cookies[session.LOGIN_COOKIE]
    assert cookie and token != cookie and cookie not in token


def test_a_login_form_older_than_an_hour_is_refused(login_app: Flask) -> None:
    web = client_at(login_app, "192.0.2.10")
    web.get("/ui/login")
    cookie = web.get_cookie(session.LOGIN_COOKIE, path=session.LOGIN_PATH)
    assert cookie is not None
    with login_app.app_context():
        old = session.login_token(cookie.value, int(time.time()) - session.LOGIN_MAX_AGE - 5)
        fresh = session.login_token(cookie.value, int(time.time()) - 5)
    answer = web.post("/ui/login", data={"csrf_token": old, "api_key": VIEWER_KEY})
    assert answer.status_code == 403 and "minutes old" in answer.text, answer.text
    answer = web.post("/ui/login", data={"csrf_token": fresh, "api_key": VIEWER_KEY})
    assert answer.status_code == 303, answer.text


def test_the_login_cookie_over_https_is_host_prefixed_secure_and_ends_at_sign_in(
    login_app: Flask,
) -> None:
    web = client_at(login_app, "192.0.2.11")
    form = web.get("/ui/login", base_url="https://localhost")
    cookie = next(c for c in form.headers.getlist("Set-Cookie") if c.startswith("__Host-"))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path=/", "samesite=strict"} <= flags, cookie
    assert not any(flag.startswith("domain") for flag in flags), cookie
    data = {"csrf_token": csrf_of(form.text), "api_key": VIEWER_KEY}
    answer = web.post("/ui/login", data=data, base_url="https://localhost")
    assert answer.status_code == 303, answer.text
    ended = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith("__Host-")]
    assert ended and "expires=thu, 01 jan 1970" in ended[0].lower(), ended


def test_failed_sign_ins_past_the_limit_get_429_with_retry_after_even_with_the_right_key(
    login_app: Flask,
) -> None:
    web = client_at(login_app, "192.0.2.20")
    assert [sign_in(web, WRONG_KEY).status_code for _ in range(FAILURES)] == [401] * FAILURES
    refused = sign_in(web, VIEWER_KEY)
    assert refused.status_code == 429, refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 60, refused.headers
    assert "too many failed sign-ins" in refused.text
    assert web.get_cookie(session.COOKIE, path=session.PATH) is None


def test_one_clients_failures_do_not_block_another_clients_sign_in(login_app: Flask) -> None:
    failing = client_at(login_app, "192.0.2.30")
    answers = [sign_in(failing, WRONG_KEY).status_code for _ in range(FAILURES + 1)]
    assert answers == [401] * FAILURES + [429]
    assert sign_in(client_at(login_app, "192.0.2.31"), VIEWER_KEY).status_code == 303
    assert sign_in(client_at(login_app, "2001:db8:30::1"), VIEWER_KEY).status_code == 303


def test_successful_sign_ins_are_not_counted_as_failures(login_app: Flask) -> None:
    web = client_at(login_app, "192.0.2.40")
    assert [sign_in(web, VIEWER_KEY).status_code for _ in range(2 * FAILURES)] == [303] * 6
    answers = [sign_in(web, WRONG_KEY).status_code for _ in range(FAILURES + 1)]
    assert answers == [401] * FAILURES + [429]


def test_concurrent_failed_sign_ins_get_no_more_tries_than_the_limit(login_app: Flask) -> None:
    tries = 40
    clients = [client_at(login_app, "192.0.2.50") for _ in range(tries)]
    forms = [web.get("/ui/login") for web in clients]
    start, answers = threading.Barrier(tries), []

    def guess(web: FlaskClient, token: str) -> None:
        start.wait(timeout=30)
        answers.append(web.post("/ui/login", data={"csrf_token": token, "api_key": WRONG_KEY}))

    threads = [
        threading.Thread(target=guess, args=(web, csrf_of(form.text)))
        for web, form in zip(clients, forms, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * FAILURES + [429] * (tries - FAILURES), statuses
