"""Request limits: body size (413) and a per-key rate limit in Redis (429 with Retry-After).

The rate limit is a fixed window per API key name (limits parsed and keys named by the
``limits`` library), counted in the same Redis as everything else (keys under
``tuneloop:ratelimit:``), so every gunicorn worker and every gateway replica shares one
count per key. The hottest endpoints count it in the same script as their own work (see
tuneloop.store.ratelimit): one round trip instead of two. Keys without the admin scope get
TUNELOOP_RATE_LIMIT (default 600/minute); admin keys, the operators' own (TUNELOOP_API_KEY
among them), get TUNELOOP_ADMIN_RATE_LIMIT (default off). Public endpoints (health,
readiness, the OpenAPI document and /docs) and requests without a valid key (answered 401
first) are never counted.

When Redis cannot be reached the limit fails open: the request goes on (and gets the 503 of
whatever storage call it makes next, or its 401/4xx), a warning is logged, and nothing turns
into a 500. A limiter outage must not take the API down on its own, and an API whose storage
is down answers 503 anyway.

Flask-Limiter did this until issue #13: its per-request bookkeeping cost more than the Redis
round trip itself.
"""

import logging
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, g, request
from limits import parse_many
from redis import Redis
from redis.exceptions import RedisError
from werkzeug.exceptions import RequestEntityTooLarge

from tuneloop.settings import Settings
from tuneloop.store import keys, ratelimit
from tuneloop.store.ratelimit import RateLimitedError, Window
from tuneloop_gateway import auth, checks
from tuneloop_gateway.errors import problem

log = logging.getLogger(__name__)
RATE_LIMIT_PREFIX = keys.RATE_LIMITS
DISABLED = ("", "off", "none")
F = TypeVar("F", bound=Callable)
MAX_FORM_PARTS = 1000  # fields and files of one multipart body (werkzeug's default)


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


def counted_in_store(func: F) -> F:
    """Mark a view whose store call counts the rate limit itself (see deferred())."""
    func.rate_limit_in_store = True
    return func


def deferred() -> tuple[Window, ...]:
    """Take the current request's rate-limit windows for its store call to count.

    Only a view marked counted_in_store gets any; once taken, the store call must count
    them (it raises RateLimitedError when one is used up).
    """
    return g.pop("rate_windows", ())


class RateLimit:
    """Fixed-window limits per API key name, app keys and admin keys apart."""

    def __init__(self, redis: Redis, limit: str, admin_limit: str) -> None:
        self.limits = parse_many(limit) if limit else []
        self.admin_limits = parse_many(admin_limit) if admin_limit else []
        self._hit = redis.register_script(ratelimit.HIT_ONLY)

    def windows(self, key: auth.ApiKey) -> tuple[Window, ...]:
        """The current windows of key's limits: one count per key, whichever project it works
        in (a key of one project counts in it alone; an every-project key gets no more
        requests by naming several projects)."""
        items = self.admin_limits if auth.ADMIN in key.scopes else self.limits
        return tuple(
            Window(f"{RATE_LIMIT_PREFIX}:{item.key_for(key.name)}", item.get_expiry(), item.amount)
            for item in items
        )

    def check(self) -> Response | None:
        """Count the request against its key's limits; answer 429 once one is used up.

        A view marked counted_in_store has its store call count them in the same script
        as its own work: the windows wait in g until it takes them, or until settle().
        """
        key = auth.current_key()
        if key is None or auth.is_public():
            return None
        windows = checks.rate_windows(self, key)
        if not windows:
            return None
        if getattr(auth.view_method(), "rate_limit_in_store", False):
            g.rate_windows = windows
            return None
        return self._count(key, windows)

    def settle(self, response: Response) -> Response:
        """Count the windows a marked view did not take (it answered before its store call)."""
        windows = g.pop("rate_windows", None)
        if not windows:
            return response
        key = auth.current_key()
        assert key is not None  # windows are only set for a request with a key
        refusal = self._count(key, windows)
        return refusal if refusal is not None else response

    def _count(self, key: auth.ApiKey, windows: tuple[Window, ...]) -> Response | None:
        """Count windows now: None when within them, else the 429 answer."""
        try:
            ratelimit.raise_if_over(
                self._hit(keys=ratelimit.window_keys(windows), args=ratelimit.window_args(windows))
            )
        except RateLimitedError as refused:
            return self.refusal(key, refused)
        except RedisError as exc:
            log.warning(
                "rate limit storage unavailable, request let through (fail open): %s: %s",
                type(exc).__name__,
                exc,
            )
        return None

    def refusal(self, key: auth.ApiKey, refused: RateLimitedError) -> Response:
        """The 429 answer naming the key and the limit it used up."""
        items = self.admin_limits if auth.ADMIN in key.scopes else self.limits
        return problem(
            429,
            "Too Many Requests",
            f"the key {key.name!r} has used its rate limit of {items[refused.window]}; "
            f"retry in {refused.retry_after} s",
            headers={"Retry-After": str(refused.retry_after)},
        )


def build_limiter(app: Flask, settings: Settings, redis: Redis) -> RateLimit | None:
    """Install the per-key rate limits on app (after authentication); None when both are off."""
    limit = parse_rate_limit(settings.rate_limit)
    admin_limit = parse_rate_limit(settings.admin_rate_limit, "TUNELOOP_ADMIN_RATE_LIMIT")
    if not limit:
        log.warning("TUNELOOP_RATE_LIMIT is off: ingest and jobs keys are not rate limited")
    if not (limit or admin_limit):
        return None
    limiter = RateLimit(redis, limit, admin_limit)
    app.extensions["limiter"] = limiter
    app.before_request(limiter.check)
    app.after_request(limiter.settle)

    def store_refused(refused: RateLimitedError) -> Response:
        key = auth.current_key()
        assert key is not None  # only a request with a key has windows to count
        return limiter.refusal(key, refused)

    app.register_error_handler(RateLimitedError, store_refused)
    return limiter


def request_has_body() -> bool:
    """Whether the current request sends a body: a non-zero Content-Length, or chunked."""
    if request.content_length:
        return True
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def body_is_json_or_absent() -> bool:
    """Whether the current request sends no body, or one declared as JSON (checks.is_json)."""
    return not request_has_body() or checks.is_json(request.content_type)


def install_body_limit(app: Flask, max_bytes: int) -> None:
    """Answer 413 problem+json to a body over max_bytes, or a form of over MAX_FORM_PARTS parts.

    A declared Content-Length over the limit is refused before any of the body is read. A
    body without one (chunked) is read here, up to one byte past the limit, and refused if it
    gets there: werkzeug alone would silently cut such a body at the limit. A form field may
    be as long as the body (werkzeug's own cap, 500 kB, would refuse a file sent as a plain
    field before its check could say so), so once the body passed, werkzeug's 413 means its
    one other limit: more than MAX_FORM_PARTS parts.
    """
    # One byte of slack, so that reading max_bytes + 1 bytes tells "over the limit" apart.
    app.config["MAX_CONTENT_LENGTH"] = max_bytes + 1
    app.config["MAX_FORM_MEMORY_SIZE"] = max_bytes + 1
    app.config["MAX_FORM_PARTS"] = MAX_FORM_PARTS

    def too_large(detail: str) -> Response:
        return problem(413, "Content Too Large", detail)

    def check_body_size() -> Response | None:
        headers = request.headers
        length = checks.declared_length(
            headers.get("Content-Length"), headers.get("Transfer-Encoding")
        )
        if checks.too_large(length, max_bytes):
            return too_large(
                f"the request body is {length} bytes; at most {max_bytes} are accepted "
                "(TUNELOOP_MAX_BODY_BYTES)"
            )
        if length is None and request_has_body() and len(request.get_data(cache=True)) > max_bytes:
            return too_large(
                f"the request body is over {max_bytes} bytes, the most accepted "
                "(TUNELOOP_MAX_BODY_BYTES)"
            )
        g.body_within_limit = True
        return None

    def read_too_much(_: RequestEntityTooLarge) -> Response:
        if g.get("body_within_limit") and request.mimetype == "multipart/form-data":
            return too_large(
                f"the multipart body has more than {MAX_FORM_PARTS} parts, the most accepted"
            )
        return too_large(f"the request body is over {max_bytes} bytes (TUNELOOP_MAX_BODY_BYTES)")

    app.before_request(check_body_size)
    app.register_error_handler(RequestEntityTooLarge, read_too_much)
