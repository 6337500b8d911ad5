"""Request limits: body size (413) and a per-key rate limit in Redis (429 with Retry-After).

The rate limit is Flask-Limiter's application-wide limit, keyed by the name of the API key
that authenticated the request, counted in the same Redis as everything else (keys under
``tuneloop:ratelimit:``), so every gunicorn worker and every gateway replica shares one count
per key. Keys without the admin scope get TUNELOOP_RATE_LIMIT (default 600/minute); admin
keys, the operators' own (TUNELOOP_API_KEY among them), get TUNELOOP_ADMIN_RATE_LIMIT
(default off). Public endpoints (health, readiness, the OpenAPI document and /docs) and
requests without a valid key (answered 401 first) are never counted.

When Redis cannot be reached the limit fails open: the request goes on (and gets the 503 of
whatever storage call it makes next, or its 401/4xx), a warning is logged, and nothing turns
into a 500. A limiter outage must not take the API down on its own, and an API whose storage
is down answers 503 anyway.
"""

import logging
import math
import time

from flask import Flask, Response, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.errors import RateLimitExceeded
from limits import parse_many
from werkzeug.exceptions import RequestEntityTooLarge

from tuneloop.settings import Settings
from tuneloop.store import keys
from tuneloop_gateway import auth
from tuneloop_gateway.errors import problem

log = logging.getLogger(__name__)
RATE_LIMIT_PREFIX = keys.RATE_LIMITS
DISABLED = ("", "off", "none")


def parse_rate_limit(value: str, name: str = "TUNELOOP_RATE_LIMIT") -> str:
    """Return the rate limit string, "" when off; RuntimeError if it does not parse."""
    if value.strip().lower() in DISABLED:
        return ""
    try:
        parse_many(value)
    except ValueError as exc:
        raise RuntimeError(
            f"{name} {value!r} is not a rate limit such as '600/minute' "
            f"or '20/second;600/minute' (or 'off'): {exc}"
        ) from None
    return value


def _key_name() -> str:
    """The rate-limit bucket: the name of the key that authenticated the request."""
    key = auth.current_key()
    return key.name if key is not None else ""


def _exempt() -> bool:
    """Public endpoints and requests that no key authenticated are never counted."""
    return auth.is_public() or auth.current_key() is None


class _QuietStorageErrors(logging.Filter):
    """Log a limiter storage failure as one warning line instead of a stack trace per request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = "rate limit storage unavailable, request let through (fail open): %s"
            record.args = (f"{type(error).__name__}: {error}",)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


def build_limiter(app: Flask, settings: Settings) -> Limiter | None:
    """Install the per-key rate limits on app (after authentication); None when both are off."""
    limit = parse_rate_limit(settings.rate_limit)
    admin_limit = parse_rate_limit(settings.admin_rate_limit, "TUNELOOP_ADMIN_RATE_LIMIT")
    if not limit:
        log.warning("TUNELOOP_RATE_LIMIT is off: ingest and jobs keys are not rate limited")
    if not (limit or admin_limit):
        return None

    def limit_of_current_key() -> str:
        """The limit of the key that sent the request ("": none)."""
        key = auth.current_key()
        return admin_limit if key is not None and auth.ADMIN in key.scopes else limit

    limiter = Limiter(
        key_func=_key_name,
        application_limits=[limit_of_current_key],
        storage_uri=settings.redis_url,
        storage_options={
            "key_prefix": RATE_LIMIT_PREFIX,
            "socket_connect_timeout": 3,
            "socket_timeout": 5,
        },
        strategy="fixed-window",
        swallow_errors=True,  # fail open when Redis is unreachable: see the module docstring
        headers_enabled=False,  # Retry-After is set on 429 answers only, by the handler below
    )
    limiter.request_filter(_exempt)
    limiter.init_app(app)
    limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(f, _QuietStorageErrors) for f in limiter_log.filters):
        limiter_log.addFilter(_QuietStorageErrors())

    def too_many_requests(error: RateLimitExceeded) -> Response:
        retry_after = _retry_after(limiter.current_limit)
        name = _key_name()
        return problem(
            429,
            "Too Many Requests",
            f"the key {name!r} has used its rate limit of {error.limit.limit}; "
            f"retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

    app.register_error_handler(RateLimitExceeded, too_many_requests)
    return limiter


def _retry_after(current: RequestLimit | None) -> int:
    """Whole seconds until the breached window resets (at least 1)."""
    if current is None:
        return 1
    try:
        return max(1, math.ceil(current.window.reset_time - time.time()))
    except Exception:  # the storage went away between the hit and this read
        return 1


def request_has_body() -> bool:
    """Whether the current request sends a body: a non-zero Content-Length, or chunked."""
    if request.content_length:
        return True
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def install_body_limit(app: Flask, max_bytes: int) -> None:
    """Answer 413 problem+json to a body over max_bytes.

    A declared Content-Length over the limit is refused before any of the body is read. A
    body without one (chunked) is read here, up to one byte past the limit, and refused if it
    gets there: werkzeug alone would silently cut such a body at the limit.
    """
    # One byte of slack, so that reading max_bytes + 1 bytes tells "over the limit" apart.
    app.config["MAX_CONTENT_LENGTH"] = max_bytes + 1

    def too_large(detail: str) -> Response:
        return problem(413, "Content Too Large", detail)

    def check_body_size() -> Response | None:
        length = request.content_length
        if length is not None and length > max_bytes:
            return too_large(
                f"the request body is {length} bytes; at most {max_bytes} are accepted "
                "(TUNELOOP_MAX_BODY_BYTES)"
            )
        if length is None and request_has_body() and len(request.get_data(cache=True)) > max_bytes:
            return too_large(
                f"the request body is over {max_bytes} bytes, the most accepted "
                "(TUNELOOP_MAX_BODY_BYTES)"
            )
        return None

    def read_too_much(_: RequestEntityTooLarge) -> Response:
        return too_large(f"the request body is over {max_bytes} bytes (TUNELOOP_MAX_BODY_BYTES)")

    app.before_request(check_body_size)
    app.register_error_handler(RequestEntityTooLarge, read_too_much)
