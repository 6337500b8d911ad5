"""The checks a request passes before its view answers it, as functions of what it sent.

Flask makes them in its hooks and its body parser (auth.check_bearer, the limiter and the
body limit in limits.py, app.require_json_body, the id converters in id_params.py, the
parser in blueprint.py); the hot lane (lane.py) calls the same functions on the WSGI
environ and serves a request only when every one of them passes it. One function per
check, so a change to a check changes both paths.
"""

import functools
import hashlib
import hmac
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from marshmallow import Schema
from werkzeug.http import parse_etags
from werkzeug.sansio.utils import get_content_length

from tuneloop.agent import registry
from tuneloop.schemas.interactions import MAX_BATCH, InteractionBatchInSchema, InteractionInSchema
from tuneloop.store import ids
from tuneloop.store.ids import IdKind
from tuneloop.store.ratelimit import Window
from tuneloop.strict_json import strict_loads
from tuneloop_gateway import trusted

if TYPE_CHECKING:  # both import this module
    from tuneloop_gateway.auth import ApiKey
    from tuneloop_gateway.limits import RateLimit

# Bodies with an accept-only fast path: a valid one is loaded without marshmallow, anything
# else is validated in full (and answered with marshmallow's messages).
FAST_PATHS: dict[type[Schema], Callable[[Any], dict | None]] = {
    InteractionInSchema: trusted.interaction,
    InteractionBatchInSchema: functools.partial(trusted.batch, max_items=MAX_BATCH),
}


def key_digest(key: str) -> bytes:
    """Return the SHA-256 digest of a key; keys are only held and compared as digests."""
    return hashlib.sha256(key.encode()).digest()


def identify(token: str, keys: Iterable["ApiKey"]) -> "ApiKey | None":
    """Return the key whose digest matches token's, comparing with every key in constant time."""
    digest = key_digest(token)
    found = None
    for key in keys:
        # No early exit: every configured digest is compared, whichever one matches.
        if hmac.compare_digest(digest, key.digest):
            found = key
    return found


def bearer_key(header: str, keys: Iterable["ApiKey"]) -> "ApiKey | None":
    """Return the key an Authorization header's bearer token names, or None (401)."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return identify(token.strip(), keys)


def rate_windows(limiter: "RateLimit | None", key: "ApiKey") -> tuple[Window, ...]:
    """The rate-limit windows a request of key counts (none when rate limits are off)."""
    return limiter.windows(key) if limiter is not None else ()


def declared_length(content_length: str | None, transfer_encoding: str | None) -> int | None:
    """The body's length as werkzeug reads the headers: None when chunked or not declared."""
    return get_content_length(content_length, transfer_encoding)


def too_large(length: int | None, max_bytes: int) -> bool:
    """Whether a declared body length is over the limit (413 before any of it is read)."""
    return length is not None and length > max_bytes


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type declares JSON: application/json or application/*+json."""
    mimetype = (content_type or "").partition(";")[0].strip().lower()
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def decode(body: bytes) -> Any:
    """Decode a JSON body strictly (ValueError or RecursionError when it is not JSON we take)."""
    return strict_loads(body)


def accepted(schema: type[Schema], data: Any) -> dict | None:
    """What a schema of this class loads from data when its fast path vouches for it; else None."""
    fast = FAST_PATHS.get(schema)
    return fast(data) if fast is not None else None


def accepted_body(schema: type[Schema], body: bytes) -> dict | None:
    """accepted() of a raw body; None when it does not decode (the parser then says why)."""
    try:
        data = decode(body)
    except (ValueError, RecursionError):
        return None
    return accepted(schema, data)


def is_id(kind: IdKind, value: str) -> bool:
    """Whether a path parameter is an id of its kind (any other is answered 404); a model's
    may also be a built-in model the operator registered (a base language model's name)."""
    return kind.matches(value) or (kind is ids.MODEL and value in registry.BUILTIN)


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names the answer's entity tag (weak comparison, RFC 9110)."""
    return bool(if_none_match) and parse_etags(if_none_match).contains_weak(etag)
