"""Every error as an RFC 9457 problem document, from one place."""

import logging

from flask import Flask, Response, g, json
from gunicorn.http.errors import ParseException
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from tuneloop.store.budget import BudgetExceeded

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


INSUFFICIENT_QUOTA = "insufficient_quota"  # a problem's type: a project's budget is used up


def problem(
    status: int,
    title: str,
    detail: str,
    errors: dict | None = None,
    headers: dict | None = None,
    kind: str = "about:blank",
) -> Response:
    """Render a problem document with its content type."""
    body = {"type": kind, "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


def _field_errors(messages: dict) -> dict:
    """Merge webargs' per-location messages into one map of field to messages."""
    merged: dict = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            merged.update(fields)
        else:
            merged["body" if location == "json" else location] = fields
    return merged


def field_paths(errors: dict, prefix: str = "") -> list[str]:
    """Return dotted paths of the invalid fields: items[3].rating, metadata.key."""
    paths = []
    for key, value in errors.items():
        if isinstance(key, int) or str(key).isdigit():
            path = f"{prefix}[{key}]"
        elif key == "_schema":
            path = prefix or "body"
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
        paths += field_paths(value, path) if isinstance(value, dict) else [path]
    return paths


def _detail(errors: dict) -> str:
    if list(errors) == ["body"] and isinstance(errors["body"], list):
        return "; ".join(str(m) for m in errors["body"])
    return "invalid fields: " + ", ".join(field_paths(errors))


def handle_http_exception(error: HTTPException) -> Response:
    """Render an HTTP error, naming the invalid fields for validation errors."""
    data = getattr(error, "data", None) or {}
    errors = _field_errors(data["messages"]) if "messages" in data else data.get("errors")
    detail = data.get("message") or (_detail(errors) if errors else error.description)
    headers = dict(data.get("headers") or {})
    if error.code == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return problem(error.code or 500, error.name, detail, errors, headers)


# Redis refuses commands for a while: memory full and read-only replicas have their own
# exception classes in redis-py (LOADING is a ConnectionError); the other replies keep
# their code at the start of the message.
_UNAVAILABLE_ERRORS = (OutOfMemoryError, ReadOnlyError)
_UNAVAILABLE_REPLIES = ("BUSY", "MASTERDOWN", "MISCONF")


def unavailable(detail: str) -> Response:
    """Answer 503 with a hint to retry."""
    return problem(503, "Service Unavailable", detail, headers={"Retry-After": "5"})


def handle_redis_error(error: RedisError) -> Response:
    """Answer 503 when Redis cannot take or give data now: nothing was stored."""
    if isinstance(error, RedisConnectionError | RedisTimeoutError):
        log.warning("redis unreachable: %s", error)
        return unavailable("storage is unreachable; retry later")
    if isinstance(error, OutOfMemoryError):
        log.warning("redis is full: %s", error)
        return unavailable(
            "the store is full (Redis at maxmemory): it takes no writes; retry later"
        )
    if isinstance(error, _UNAVAILABLE_ERRORS) or str(error).startswith(_UNAVAILABLE_REPLIES):
        log.warning("redis refused a command: %s", error)
        return unavailable("storage refused the request for now; retry later")
    return handle_unexpected(error)


def handle_broker_error(error: KombuOperationalError) -> Response:
    """Answer 503 when a message could not be sent to the workers."""
    log.warning("broker unavailable: %s", error)
    return unavailable("the task queue is unreachable; retry later")


def handle_unreadable_body(error: ParseException) -> Response:
    """Answer 400 to a body gunicorn could not read (a bad chunk size, say): nothing was stored."""
    log.info("unreadable request body: %s", error)
    return problem(400, "Bad Request", f"the request body could not be read: {error}")


def handle_over_budget(error: BudgetExceeded) -> Response:
    """Answer 429 insufficient_quota naming the budget and the figures: nothing was stored."""
    detail = error.describe(g.get("project", "?"))
    return problem(429, "Insufficient Quota", detail, kind=INSUFFICIENT_QUOTA)


def handle_unexpected(error: Exception) -> Response:
    """Log the stack trace; the client gets a plain 500 problem without it."""
    log.exception("unhandled error")
    return problem(500, "Internal Server Error", "an unexpected error occurred")


def register(app: Flask) -> None:
    """Install the problem handlers on app."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(RedisError, handle_redis_error)
    app.register_error_handler(KombuOperationalError, handle_broker_error)
    app.register_error_handler(ParseException, handle_unreadable_body)
    app.register_error_handler(BudgetExceeded, handle_over_budget)
    app.register_error_handler(Exception, handle_unexpected)
