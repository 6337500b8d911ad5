"""Errors of the OpenAI-compatible routes in OpenAI's shape; our own routes keep problem+json."""

import json

from flask import Flask, Response, request

from tuneloop_gateway.errors import INSUFFICIENT_QUOTA, PROBLEM_JSON, field_paths

# The routes whose clients are OpenAI SDKs.
PREFIXES = ("/v1/fine_tuning/", "/v1/files", "/v1/chat/")
TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
CODES = {401: "invalid_api_key", 404: "not_found", 409: "conflict", 413: "payload_too_large"}


def is_openai_route(path: str) -> bool:
    """Whether path belongs to the OpenAI-compatible API."""
    return path.startswith(PREFIXES) or path == "/v1/files"


def first_param(errors: dict | None) -> str | None:
    """The first invalid field's path, items[3].rating style (OpenAI names one param)."""
    paths = field_paths(errors or {})
    return paths[0] if paths and paths[0] != "body" else None


def first_message(errors: object) -> str | None:
    """The first message of the first invalid field (the one first_param names)."""
    while isinstance(errors, dict | list) and errors:
        errors = next(iter(errors.values())) if isinstance(errors, dict) else errors[0]
    return errors if isinstance(errors, str) else None


def openai_error(status: int, problem: dict) -> dict:
    """Turn one problem document into OpenAI's error body (its one message says why)."""
    message = problem.get("detail") or problem.get("title") or "error"
    param = first_param(problem.get("errors"))
    why = first_message(problem.get("errors")) if param else None
    if why and why in message:  # a detail that already says it (a file's bad lines)
        why = None
    kind = TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    code = CODES.get(status)
    if problem.get("type") == INSUFFICIENT_QUOTA:  # a budget used up, as OpenAI says a quota is
        kind = code = INSUFFICIENT_QUOTA
    return {
        "error": {
            "message": f"{message}; {param}: {why}" if why else message,
            "type": kind,
            "param": param,
            "code": code,
        }
    }


def to_openai_shape(response: Response) -> Response:
    """Rewrite a problem+json answer of an OpenAI route in OpenAI's error shape."""
    if response.mimetype != PROBLEM_JSON or not is_openai_route(request.path):
        return response
    body = openai_error(response.status_code, json.loads(response.get_data()))
    response.set_data(json.dumps(body))
    response.mimetype = "application/json"
    return response


def register(app: Flask) -> None:
    """Rewrite errors on the OpenAI routes, whichever handler (or limit) produced them."""
    app.after_request(to_openai_shape)
