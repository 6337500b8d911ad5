"""X-Request-ID: kept from the client when well-formed, else made here; sent back on every answer.

While the request runs, the id is in the log context (every line logged carries it), and
every Celery message it sends carries it as a header, so the workers' lines of a job name
the request that created it. gunicorn's access log prints it beside each request
(tuneloop_gateway.gunicorn_conf).
"""

import contextlib
import re
import uuid

from celery.signals import before_task_publish
from flask import Flask, Response, g, request

from tuneloop import logs

HEADER = "X-Request-ID"
WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def from_header(given: str) -> str:
    """The id of a request that sent given as its X-Request-ID: given when well-formed, else new."""
    return given if WELL_FORMED.fullmatch(given) else uuid.uuid4().hex


def current() -> str:
    """Return this request's id, making one when the request has none yet."""
    if "request_id" not in g:
        g.request_id = from_header(request.headers.get(HEADER, ""))
    return g.request_id


def _assign() -> None:
    """Fix the request's id before anything answers (a before_request hook returns None)."""
    g.request_log_token = logs.bind(request_id=current())


def _send_back(response: Response) -> Response:
    """Put the request's id on the answer, whatever produced it (errors included)."""
    response.headers[HEADER] = current()
    return response


def _forget(_exc: BaseException | None) -> None:
    """Take the id out of the log context once the request is over."""
    token = g.pop("request_log_token", None)
    if token is not None:
        with contextlib.suppress(ValueError):  # set in another context: nothing to undo here
            logs.reset(token)


def register(app: Flask) -> None:
    """Give every request an id and every answer the header (register before other hooks)."""
    app.before_request(_assign)
    app.after_request(_send_back)
    app.teardown_request(_forget)
    # Every task message sent while a request runs carries its id to the workers.
    before_task_publish.connect(logs.add_request_id, weak=False, dispatch_uid="tuneloop-request-id")
