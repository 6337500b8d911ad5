"""Logging in to the report pages with an API key, and out."""

import secrets

from flask import Response, g, make_response, redirect, render_template, request, url_for

from tuneloop_gateway import checks
from tuneloop_gateway.extensions import services
from tuneloop_gateway.pages import session
from tuneloop_gateway.pages.site import bp, page_error, requires

LOGIN_PATH = "/ui/login"


def safe_next(target: str | None) -> str:
    """Return target when it is a page of this site, else the jobs list (no open redirect)."""
    target = target or ""
    if target.startswith("/ui/") and "\\" not in target:  # a path here: no scheme, no host
        return target
    return url_for("pages.jobs")


def login_form(error: str = "", status: int = 200) -> Response:
    """Render the login form with a fresh CSRF token, also set as a cookie to compare with."""
    token = secrets.token_urlsafe(32)
    next_page = safe_next(request.values.get("next"))
    body = render_template("login.html", login_csrf=token, next_page=next_page, error=error)
    response = make_response(body, status)
    session.set_cookie(response, session.LOGIN_CSRF_COOKIE, token, LOGIN_PATH, 3600)
    return response


@bp.get("/login")
def login() -> object:
    """Show the login form."""
    return login_form()


@bp.post("/login")
def login_post() -> object:
    """Check the key; on success start a session and go to the page asked for."""
    expected = request.cookies.get(session.LOGIN_CSRF_COOKIE)
    if not session.csrf_ok(expected):
        return page_error(403, "Forbidden", "the login form's CSRF token is missing or wrong")
    key = checks.identify(request.form.get("api_key", "").strip(), services().api_keys)
    if key is None:
        return login_form("That key is not valid.", 401)
    session_id, _ = session.start(key)
    response = redirect(safe_next(request.form.get("next")), 303)
    session.set_cookie(response, session.COOKIE, session_id, session.PATH, session.MAX_AGE)
    response.delete_cookie(session.LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
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
