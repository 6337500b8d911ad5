"""Sessions of the report pages: a cookie naming a session kept in Redis, bound to an API key.

The cookie holds only a random session id. Redis keeps, under the SHA-256 of that id, the
name of the key that logged in, a fingerprint of that key's digest (so a key replaced under
the same name ends its sessions) and the session's CSRF token. Neither the key nor its digest
is in the cookie or in Redis. Logging out deletes the record, so a copied cookie dies with it.
"""

import hashlib
import hmac
import secrets

from flask import Response, g, request

from tuneloop.store import keys
from tuneloop_gateway.auth import ApiKey
from tuneloop_gateway.extensions import services

COOKIE = "tuneloop_session"
LOGIN_CSRF_COOKIE = "tuneloop_login_csrf"
CSRF_FIELD = "csrf_token"
PATH = "/ui"
MAX_AGE = 8 * 3600  # seconds a session lasts from its login
_PREFIX = f"{keys.PREFIX}:ui:session:"


def _record_key(session_id: str) -> str:
    """The Redis key of a session: the id itself is never stored."""
    return _PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


def fingerprint(key: ApiKey) -> str:
    """A value that changes when the key behind a name changes, and reveals nothing of it."""
    return hmac.new(key.digest, b"tuneloop-ui-session", hashlib.sha256).hexdigest()


def start(key: ApiKey) -> tuple[str, str]:
    """Store a new session for key; return its id (for the cookie) and its CSRF token."""
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    record = {"key": key.name, "fp": fingerprint(key), "csrf": csrf}
    redis = services().store.redis
    redis.hset(_record_key(session_id), mapping=record)
    redis.expire(_record_key(session_id), MAX_AGE)
    return session_id, csrf


def end(session_id: str) -> None:
    """Forget a session."""
    services().store.redis.delete(_record_key(session_id))


def load(session_id: str | None) -> tuple[ApiKey, str] | None:
    """Return the key and CSRF token of a live session, or None."""
    if not session_id or len(session_id) > 128:
        return None
    record = services().store.redis.hgetall(_record_key(session_id))
    if not record:
        return None
    for key in services().api_keys:
        if key.name == record.get("key") and hmac.compare_digest(fingerprint(key), record["fp"]):
            return key, record["csrf"]
    return None


def set_cookie(response: Response, name: str, value: str, path: str, max_age: int) -> None:
    """Set an HttpOnly, SameSite=Strict cookie, Secure when the request came over https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=request.is_secure,
        httponly=True,
        samesite="Strict",
    )


def csrf_ok(expected: str | None) -> bool:
    """Whether the submitted form carries the expected CSRF token."""
    sent = request.form.get(CSRF_FIELD, "")
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


def csrf_token() -> str:
    """The current session's CSRF token, for the templates' forms."""
    return g.get("ui_csrf", "")
