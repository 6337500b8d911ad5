"""X-Request-ID: kept from the client when well-formed, else made here; sent back on every answer.

gunicorn's access log prints it beside each request (tuneloop_gateway.gunicorn_conf).
"""

import re
import uuid

from flask import Flask, Response, g, request

HEADER = "X-Request-ID"
WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def current() -> str:
    """Return this request's id, making one when the request has none yet."""
    if "request_id" not in g:
        given = request.headers.get(HEADER, "")
        g.request_id = given if WELL_FORMED.fullmatch(given) else uuid.uuid4().hex
    return g.request_id


def _assign() -> None:
    """Fix the request's id before anything answers (a before_request hook returns None)."""
    current()


def _send_back(response: Response) -> Response:
    """Put the request's id on the answer, whatever produced it (errors included)."""
    response.headers[HEADER] = current()
    return response


def register(app: Flask) -> None:
    """Give every request an id and every answer the header (register before other hooks)."""
    app.before_request(_assign)
    app.after_request(_send_back)
