"""Logging in to the report pages with an API key, and out."""

import time

from flask import (
    Response,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from tuneloop.store.ratelimit import RateLimitedError
from tuneloop_gateway import checks
from tuneloop_gateway.extensions import services
from tuneloop_gateway.pages import session
from tuneloop_gateway.pages.site import bp, page_error, requires
from tuneloop_gateway.pages.throttle import SETTING, SignInThrottle, client_of

THROTTLE = "tuneloop_sign_in_throttle"  # the app extension holding the SignInThrottle


def safe_next(target: str | None) -> str:
    """Return target when it is a page of this site, else the jobs list (no open redirect)."""
    target = target or ""
    if target.startswith("/ui/") and "\\" not in target:  # a path here: no scheme, no host
        return target
    return url_for("pages.jobs")


def login_form(error: str = "", status: int = 200) -> Response:
    """Render the login form with a token bound to a new pre-session cookie."""
    pre_session, token = session.start_login()
    next_page = safe_next(request.values.get("next"))
    body = render_template("login.html", login_csrf=token, next_page=next_page, error=error)
    response = make_response(body, status)
    name, path = session.login_cookie()
    session.set_cookie(response, name, pre_session, path, session.LOGIN_MAX_AGE)
    return response


@bp.get("/login")
def login() -> object:
    """Show the login form."""
    return login_form()


@bp.post("/login")
def login_post() -> object:
    """Check the form and the key; on success start a session and go to the page asked for."""
    name, path = session.login_cookie()
    token = request.form.get(session.CSRF_FIELD, "")
    refusal = session.login_refusal(request.cookies.get(name), token, time.time())
    if refusal is not None:
        return page_error(403, "Forbidden", refusal)
    throttle: SignInThrottle = current_app.extensions[THROTTLE]
    client = client_of(request.remote_addr)
    if (refused := throttle.attempt(client)) is not None:
        return too_many_failures(throttle, refused)
    key = checks.identify(request.form.get("api_key", "").strip(), services().api_keys)
    if key is None:
        return login_form("That key is not valid.", 401)
    throttle.succeeded(client)
    session_id, _ = session.start(key)
    response = redirect(safe_next(request.form.get("next")), 303)
    session.set_cookie(response, session.COOKIE, session_id, session.PATH, session.MAX_AGE)
    response.delete_cookie(name, path=path, secure=request.is_secure, httponly=True)
    return response


def too_many_failures(throttle: SignInThrottle, refused: RateLimitedError) -> Response:
    """The 429 page of a client whose failed sign-ins used up the limit, with Retry-After."""
    detail = (
        f"too many failed sign-ins from this address ({throttle.describe(refused)}, "
        f"{SETTING}); try again in {refused.retry_after} s"
    )
    response = make_response(page_error(429, "Too Many Requests", detail))
    response.headers["Retry-After"] = str(refused.retry_after)
    return response


@bp.post("/logout")
@requires(None)  # any key that logged in may log out
def logout() -> object:
    """End the session (its record too, so a copied cookie stops working) and show the login."""
    session.end(request.cookies.get(session.COOKIE, ""))
    response = redirect(url_for("pages.login"), 303)
    response.delete_cookie(session.COOKIE, path=session.PATH)
    g.pop("ui_csrf", None)
    return response
