"""The Idempotency-Key header: one record or job per key, and the same answer to every retry.

A POST that carries ``Idempotency-Key`` is handled at most once per key and API key owner:

- the first request claims the key in Redis (``SET NX`` with a lease) and runs; a 2xx answer
  is stored under the key for ``TUNELOOP_IDEMPOTENCY_TTL`` seconds (default 24 h), any other
  outcome releases the claim so that a retry can run;
- a later or concurrent request with the same key and the same request gets the stored status
  and body, with ``Idempotent-Replayed: true``; while the first one still runs it waits for it
  (polling Redis, at most WAIT_SECONDS, then 409 with Retry-After);
- the same key with a different request (another body or endpoint) is refused with 422.

Requests are compared after validation: a body that differs only in formatting, key order or
explicitly sent defaults is the same request. Each API key owner has its own key space in
each project it works in.
"""

import functools
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from flask import Response, request
from flask_smorest import Blueprint, abort
from redis.exceptions import RedisError

from tuneloop.store.idempotency import DONE, Claim
from tuneloop_gateway import auth
from tuneloop_gateway.extensions import services

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY_FORMAT = re.compile(r"[!-~]{1,255}")  # 1-255 visible ASCII characters
LEASE_SECONDS = 60  # a claim whose request died (process killed) frees itself after this
WAIT_SECONDS = 20.0  # a duplicate waits this long for the first request's answer (< gunicorn's)
POLL_SECONDS = 0.05
UNSTORABLE = object()  # _unpack's body of a Response that is not JSON: answered, not stored
UNREPLAYED = {"content-length"}  # a replay's body is serialized again

HEADER_DOC = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "description": (
        "Make the request safe to retry: the first request with a key is handled, every later "
        "one with the same key and body gets the same status and body (with "
        "`Idempotent-Replayed: true`) for TUNELOOP_IDEMPOTENCY_TTL seconds (default 24 h). "
        "The same key with a different body is refused with 422. 1-255 visible ASCII "
        "characters; keys are separate per API key owner."
    ),
}


def idempotent(blp: Blueprint) -> Callable:
    """Decorate a view method (below its flask-smorest decorators) to honour Idempotency-Key."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(self: object, *args: Any, **kwargs: Any) -> Any:
            key = request.headers.get(HEADER)
            if key is None:
                return view(self, *args, **kwargs)
            return _handle(key, functools.partial(view, self, *args, **kwargs), args, kwargs)

        wrapper = blp.doc(parameters=[HEADER_DOC])(wrapper)
        wrapper = blp.alt_response(409, response="CONFLICT")(wrapper)
        return wrapper

    return decorator


def once(key: str, run: Callable[[], Any], payload: dict) -> Any:
    """Run a page's action once per key, as a POST with Idempotency-Key runs (the same payload
    again answers run's first 2xx result)."""
    return _handle(key, run, (), payload)


def _fingerprint(args: tuple, kwargs: dict) -> str:
    """Digest of what makes two requests the same: method, path and the validated input."""
    payload = {"method": request.method, "path": request.path, "args": args, "kwargs": kwargs}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _handle(key: str, run: Callable[[], Any], args: tuple, kwargs: dict) -> Any:
    if not KEY_FORMAT.fullmatch(key):
        abort(
            400,
            message=f"the {HEADER} header must be 1-255 visible ASCII characters",
            errors={HEADER: ["must be 1-255 visible ASCII characters (no spaces)"]},
        )
    svc = services()
    store = svc.store.idempotency
    owner = auth.current_key()
    name = owner.name if owner is not None else "anonymous"
    scope = f"{auth.current_project()}:{name}"  # an every-project key has one per project
    fingerprint = _fingerprint(args, kwargs)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        claim, record = store.claim(scope, key, fingerprint, LEASE_SECONDS * 1000)
        if claim is not None:
            return _run_claimed(claim, run, svc.settings.idempotency_ttl)
        if record is None:
            continue  # released or expired in between: claim again
        if record["fingerprint"] != fingerprint:
            abort(
                422,
                message=(
                    f"{HEADER} {key!r} was already used for a different request (another body "
                    "or endpoint); send a new key for a new request"
                ),
                errors={HEADER: ["already used for a different request"]},
            )
        if record["state"] == DONE:
            return _replay(record["response"])
        if time.monotonic() >= deadline:
            abort(
                409,
                message=(
                    f"a request with {HEADER} {key!r} is still being handled; "
                    "retry to get its answer"
                ),
                headers={"Retry-After": "1"},
            )
        time.sleep(POLL_SECONDS)


def _run_claimed(claim: Claim, run: Callable[[], Any], ttl: int) -> Any:
    """Run the view as the key's first request; store a 2xx answer, else free the key."""
    try:
        result = run()
    except BaseException:
        _release(claim)
        raise
    body, status, headers = _unpack(result)
    if (status is not None and not 200 <= status < 300) or body is UNSTORABLE:
        _release(claim)  # a refusal (a 429 problem, say) is answered as is, and may be retried
        return result
    response = {"body": body, "status": status, "headers": headers}
    try:
        if not services().store.idempotency.complete(claim, response, ttl):
            log.warning("idempotency key %r: the claim ran out before the answer", claim.key)
    except RedisError as exc:  # the work is done: answer it; a retry after the lease may redo it
        log.warning("idempotency key %r: the answer could not be stored: %s", claim.key, exc)
    return result


def _release(claim: Claim) -> None:
    try:
        services().store.idempotency.release(claim)
    except RedisError as exc:  # the lease frees the key anyway
        log.warning("idempotency key %r: the claim could not be released: %s", claim.key, exc)


def _unpack(result: Any) -> tuple[Any, int | None, dict]:
    """Split a view's return value into body, status (None: the default) and headers; a
    ready Response gives its JSON body (UNSTORABLE when it has none), status and headers."""
    if isinstance(result, Response):
        body = result.get_json(silent=True)
        headers = {k: v for k, v in result.headers.items() if k.lower() not in UNREPLAYED}
        return UNSTORABLE if body is None else body, result.status_code, headers
    if type(result) is not tuple:
        return result, None, {}
    if len(result) == 3:
        body, status, headers = result
        return body, status, dict(headers or {})
    body, second = result
    if isinstance(second, dict):
        return body, None, dict(second)
    return body, second, {}


def _replay(response: dict) -> Any:
    """Answer with the stored status, body and headers, marked as replayed."""
    headers = {**response["headers"], REPLAYED: "true"}
    if response["status"] is None:
        return response["body"], headers
    return response["body"], response["status"], headers
