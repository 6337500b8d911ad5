"""The report pages' blueprint: who may see them, and the headers every page carries."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from flask import Blueprint, Response, g, jsonify, redirect, render_template, request, url_for

from tuneloop_gateway import auth
from tuneloop_gateway.extensions import services
from tuneloop_gateway.headers import SECURITY_HEADERS
from tuneloop_gateway.pages import session

bp = Blueprint(
    "pages",
    __name__,
    url_prefix="/ui",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
F = TypeVar("F", bound=Callable)
PUBLIC = frozenset({"pages.login", "pages.login_post", "pages.static"})


def page_error(status: int, title: str, detail: str) -> tuple[str, int]:
    """Render an error page (JSON for the pages' own JSON endpoints)."""
    if request.endpoint and request.endpoint.endswith("_json"):
        return jsonify({"status": status, "title": title, "detail": detail}), status
    return render_template("error.html", status=status, title=title, detail=detail), status


def authenticate() -> object:
    """Identify a page's visitor by the session cookie; send to the login page, or refuse."""
    if request.blueprint != bp.name:
        return None
    g.pages_authenticate_themselves = True  # auth.check_bearer leaves these requests to us
    if request.endpoint in PUBLIC:
        return None
    found = session.load(request.cookies.get(session.COOKIE))
    if found is None:
        if request.method == "GET" and not request.endpoint.endswith("_json"):
            return redirect(url_for("pages.login", next=request.full_path.rstrip("?")), 303)
        return page_error(401, "Not logged in", "log in again: the session has ended")
    key, g.ui_csrf = found
    g.api_key = key  # what the rate limiter counts, as it counts the key's API calls
    g.project = key.works_in("", services().projects)  # an every-project key: default
    scope = auth.required_scope()  # admin unless the view says otherwise; None: any key
    if scope is not None and not key.allows(scope):
        return page_error(
            403, "Forbidden", f"the key {key.name!r} lacks the {scope!r} scope this page needs"
        )
    if request.method == "POST" and not session.csrf_ok(g.ui_csrf):
        return page_error(403, "Forbidden", "the form's CSRF token is missing or wrong")
    return None


@bp.after_request
def security_headers(response: Response) -> Response:
    """Keep pages out of frames and caches, and scripts to the gateway's own."""
    response.headers.update(SECURITY_HEADERS)
    if request.endpoint != "pages.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_global()
def csrf_token() -> str:
    """The session's CSRF token, for every form."""
    return session.csrf_token()


@bp.app_template_global()
def may(scope: str) -> bool:
    """Whether the visitor's key has scope: the nav links only the pages it may open."""
    key = g.get("api_key")
    return key is not None and key.allows(scope)


@bp.app_template_filter("when")
def when(seconds: int | None) -> str:
    """Format Unix seconds as a UTC time ("" when unset)."""
    if not seconds:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def requires(scope: str | None) -> Callable[[F], F]:
    """Mark a page view as needing scope, as auth.requires marks the API's views."""

    def decorator(func: F) -> F:
        func.required_scope = scope
        return func

    return decorator
