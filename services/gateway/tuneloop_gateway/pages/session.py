"""Sessions of the report pages: a cookie naming a session kept in Redis, bound to an API key.

The cookie holds only a random session id. Redis keeps, under the SHA-256 of that id, the
name of the key that logged in, a fingerprint of that key's digest (so a key replaced under
the same name ends its sessions) and the session's CSRF token. Neither the key nor its digest
is in the cookie or in Redis. Logging out deletes the record, so a copied cookie dies with it.

Before a session, the login form is bound to the browser that asked for it: a pre-session
cookie holds a random id, and the form's CSRF token is an HMAC of that id and the time it was
issued, under a key derived from every configured key's digest (so every worker and replica
with the same keys agrees, and nothing is stored for a visitor who never signs in). A token
is good for LOGIN_MAX_AGE, only with its own cookie: a value the gateway did not sign, or
one signed for another browser's cookie, is refused. Over https the cookie is named with the
__Host- prefix, which browsers only accept from this host, over https, for the whole site:
a sibling subdomain or a plain-http page cannot plant one of its own.
"""

import hashlib
import hmac
import secrets
import time

from flask import Response, g, request

from tuneloop.store import keys
from tuneloop_gateway.auth import ApiKey
from tuneloop_gateway.extensions import services

COOKIE = "tuneloop_session"
LOGIN_COOKIE = "tuneloop_login"  # the pre-session cookie ("__Host-" before it over https)
LOGIN_PATH = "/ui/login"
LOGIN_MAX_AGE = 3600  # seconds a login form (its cookie and token) stays good
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


def _login_key() -> bytes:
    """The login forms' signing key: the same wherever the same API keys are configured."""
    digests = b"".join(sorted(key.digest for key in services().api_keys))
    return hmac.new(digests, b"tuneloop-ui-login-csrf", hashlib.sha256).digest()


def login_token(pre_session: str, issued: int) -> str:
    """The login form's CSRF token for a pre-session id, issued at Unix time issued."""
    mac = hmac.new(_login_key(), f"{pre_session}|{issued}".encode(), hashlib.sha256)
    return f"{issued}.{mac.hexdigest()}"


def start_login() -> tuple[str, str]:
    """A new pre-session id (for the cookie) and the login form's token bound to it."""
    pre_session = secrets.token_urlsafe(32)
    return pre_session, login_token(pre_session, int(time.time()))


def login_refusal(pre_session: str | None, token: str, now: float) -> str | None:
    """Why a login form's token does not hold for this browser's pre-session; None if it does."""
    if not pre_session or len(pre_session) > 128:
        return (
            "the login form's CSRF check needs the cookie the login page set, and this "
            "browser did not send it: load the login page again (with cookies allowed)"
        )
    issued, _, _ = token.partition(".")
    signed = issued.isascii() and issued.isdigit() and len(issued) <= 12
    expected = login_token(pre_session, int(issued)) if signed else ""
    if not (expected and hmac.compare_digest(token.encode(), expected.encode())):
        return "the login form's CSRF token does not belong to this browser's login cookie"
    if now - int(issued) > LOGIN_MAX_AGE:
        return f"the login form is over {LOGIN_MAX_AGE // 60} minutes old: load it again"
    return None


def login_cookie() -> tuple[str, str]:
    """The pre-session cookie's name and path for this request (__Host- over https)."""
    return (f"__Host-{LOGIN_COOKIE}", "/") if request.is_secure else (LOGIN_COOKIE, LOGIN_PATH)


def csrf_ok(expected: str | None) -> bool:
    """Whether the submitted form carries the expected CSRF token."""
    sent = request.form.get(CSRF_FIELD, "")
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


def csrf_token() -> str:
    """The current session's CSRF token, for the templates' forms."""
    return g.get("ui_csrf", "")
