"""Report pages served by the gateway under /ui: jobs, a job's report, a model's question box.

Server-rendered HTML (Jinja2, which Flask brings), charts drawn as SVG on the server and one
small script that refreshes a running job's progress. A visitor logs in with an API key; the
session cookie then stands for that key: the same scopes, the same rate limit.
"""

from flask import Flask, redirect, url_for
from werkzeug.exceptions import HTTPException

from tuneloop_gateway import limits
from tuneloop_gateway.pages import (  # noqa: F401 - the routes
    autopilots,
    compare,
    downloads,
    interactions,
    jobs,
    login,
    models,
    new_job,
    workers,
)
from tuneloop_gateway.pages.site import authenticate, bp, page_error
from tuneloop_gateway.pages.throttle import SETTING, SignInThrottle


@bp.errorhandler(404)
@bp.errorhandler(409)
def not_found(error: HTTPException) -> object:
    """Render the API's 404 or 409 as a page."""
    data = getattr(error, "data", None) or {}
    return page_error(error.code or 404, error.name, data.get("message") or error.description)


def register(app: Flask) -> None:
    """Add the pages; their cookie check runs before the bearer check, which leaves them to it."""
    services = app.extensions["tuneloop"]
    limit = limits.parse_rate_limit(services.settings.login_failure_limit, SETTING)
    app.extensions[login.THROTTLE] = SignInThrottle(services.store.redis, limit)
    app.before_request(authenticate)
    app.register_blueprint(bp)
    app.add_url_rule("/", ROOT, site_root)


ROOT = "site_root"  # the gateway's root: public (auth.PUBLIC_ENDPOINTS), no key needed


def site_root() -> object:
    """Send a visitor of the gateway's root to the pages (which ask for a login)."""
    return redirect(url_for("pages.home"), 302)
