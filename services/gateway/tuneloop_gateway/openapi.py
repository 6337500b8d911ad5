"""OpenAPI conventions no view has to repeat: each operation's operationId, each {id} route's 404,
the If-None-Match header of an answer documented with an ETag.

operationIds come from the path, so a new view gets a stable, readable one without a decorator:

    GET /v1/jobs -> jobs_list          POST /v1/jobs -> jobs_create
    GET /v1/jobs/{job_id} -> jobs_get  POST /v1/jobs/{job_id}/cancel -> jobs_cancel
    GET /v1/jobs/{job_id}/events -> jobs_events

(a sub-resource with more than one method gets the method appended). A view names its own with
``@blp.doc(operationId=...)``, which is kept.
"""

import re
from http import HTTPStatus
from typing import Any

from apispec import BasePlugin

from tuneloop_gateway.compat.errors import is_openai_route
from tuneloop_gateway.errors import PROBLEM_JSON

OPENAI_ERROR = "OpenAIError"  # the component app.py registers from compat/schemas.py

IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "The ETag of the answer the client holds: 304 without a body while it is "
    "still the answer",
}
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
VERBS = {"post": "create", "put": "replace", "patch": "update", "delete": "delete"}
_PARAM = re.compile(r"^\{(\w+)\}$")
_VERSION = re.compile(r"^v[0-9]+$")


def operation_id(path: str, method: str, methods: int = 1) -> str:
    """A readable operationId from the path and method (methods: how many the path has)."""
    segments = [s for s in path.split("/") if s and not _VERSION.match(s)]
    names = [s for s in segments if not _PARAM.match(s)]
    if len(names) == 1:
        if method == "get":
            return f"{names[0]}_{'get' if _PARAM.match(segments[-1]) else 'list'}"
        return f"{names[0]}_{VERBS[method]}"
    base = "_".join(names)
    return base if methods == 1 else f"{base}_{method}"


def not_found(path: str) -> dict[str, Any] | None:
    """The 404 of a route with path parameters, named after its last one; None without any."""
    params = [m.group(1) for s in path.split("/") if (m := _PARAM.match(s))]
    if not params:
        return None
    thing = params[-1].removesuffix("_id").replace("_", " ")
    return {
        "description": f"no {thing} with this id",
        "content": {PROBLEM_JSON: {"schema": "Problem"}},
    }


class Conventions(BasePlugin):
    """An apispec plugin: fills in operationIds, the 404 of routes with path parameters and
    If-None-Match where an answer has an ETag."""

    def operation_helper(
        self, path: str | None = None, operations: dict | None = None, **kwargs: Any
    ) -> None:
        """Complete each operation of one path (a view's own values are kept)."""
        if not path or not operations:
            return
        methods = [m for m in operations if m in HTTP_METHODS]
        missing = not_found(path)
        for method in methods:
            operation = operations[method]
            operation.setdefault("operationId", operation_id(path, method, len(methods)))
            if missing is not None:
                operation.setdefault("responses", {}).setdefault("404", dict(missing))
            if has_etag(operation.get("responses", {})):
                operation.setdefault("parameters", []).append(dict(IF_NONE_MATCH))
            if is_openai_route(path):
                in_openai_shape(operation.get("responses", {}))


def has_etag(responses: dict) -> bool:
    """Whether an operation's 200 answer is documented with an ETag header."""
    ok = next((r for status, r in responses.items() if str(status) == "200"), None)
    return isinstance(ok, dict) and "ETag" in ok.get("headers", {})


def in_openai_shape(responses: dict) -> None:
    """Document every error response of an OpenAI-compatible route as OpenAI's error object."""
    for status in [s for s in responses if str(s)[0] in "45" or s == "default"]:
        response = responses[status]
        description = response.get("description") if isinstance(response, dict) else None
        phrase = "Error" if status == "default" else HTTPStatus(int(status)).phrase
        responses[status] = {
            "description": description or phrase,
            "content": {"application/json": {"schema": OPENAI_ERROR}},
        }
