"""The hot lane: the gateway's two most frequent requests, when plainly fine, served before Flask.

``POST /v1/interactions`` of one item and ``GET /v1/jobs/{id}`` without options are most of
a busy gateway's traffic: clients posting ratings, and pollers. For them Flask's
per-request machinery (request context, routing, eight hooks, flask-smorest's parsing and
dumping) cost more than the work itself. The lane takes such a request only when it can
tell at once how Flask would take it: a known key with the endpoint's scope, and for a post
a JSON body within the size limit, without Idempotency-Key, that trusted.interaction
accepts. It then does what the endpoint's view does with the same functions (the key's
rate limit counted in the store's script, the same record, the same answer and headers).

Every other request goes to Flask untouched, with the body the lane read given back, so
every refusal (401, 403, 413, 415, 400, 422) is Flask's own. What goes wrong once the lane
has taken a request (the rate limit used up, no such job, Redis down, a body read too slow)
is raised again in a request context made from the same environ and answered by the app's
own error handlers and after-request hooks. tests/integration/test_hot_lane.py holds the
lane's answers equal to Flask's.
"""

import io
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, g

from tuneloop import logs
from tuneloop.schemas import trusted
from tuneloop.store import ids
from tuneloop.store.ratelimit import Window
from tuneloop.strict_json import strict_loads
from tuneloop_gateway import auth, request_id
from tuneloop_gateway.api.jobs import job_body, no_job
from tuneloop_gateway.extensions import Services
from tuneloop_gateway.idempotency import HEADER as IDEMPOTENCY_HEADER
from tuneloop_gateway.metrics import ROUTE_KEY

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
POST_RULE, READ_RULE = "/v1/interactions", "/v1/jobs/<job_id>"
JOBS_PREFIX = "/v1/jobs/"
IDEMPOTENCY = "HTTP_" + IDEMPOTENCY_HEADER.upper().replace("-", "_")
STATUS = {200: "200 OK", 201: "201 CREATED"}


class Declined(Exception):  # noqa: N818 - a decision, not an error
    """The lane leaves the request to Flask."""


def scope_of(app: Flask, endpoint: str, method: str) -> str:
    """The scope a view method declares (auth.requires), read once from the app's views."""
    return getattr(app.view_functions[endpoint].view_class, method).required_scope


def plain_length(environ: dict) -> int:
    """The declared body length of a request without Transfer-Encoding; -1 when none is."""
    length = environ.get("CONTENT_LENGTH", "")
    if "HTTP_TRANSFER_ENCODING" in environ or not (length.isascii() and length.isdigit()):
        return -1
    return int(length)


def is_plain_json(environ: dict) -> bool:
    """Whether the body is declared as application/json (what Flask's is_json accepts most)."""
    return environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() == "application/json"


class HotLane:
    """WSGI middleware: serves the plainly fine hot requests, hands the others to wsgi."""

    def __init__(self, app: Flask, wsgi: WsgiApp) -> None:
        self.flask, self.wsgi = app, wsgi
        self.svc: Services = app.extensions["tuneloop"]
        self.limiter = app.extensions.get("limiter")
        self.post_scope = scope_of(app, "interactions.Interactions", "post")
        self.read_scope = scope_of(app, "jobs.Job", "get")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Answer a hot request that is plainly fine; pass any other to the app."""
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        if method == "POST" and path == POST_RULE:
            rule, scope, serve = POST_RULE, self.post_scope, self.post_interaction
        elif method == "GET" and self.is_job_read(environ, path):
            rule, scope, serve = READ_RULE, self.read_scope, self.read_job
        else:
            return self.wsgi(environ, start_response)
        key = self.key(environ, scope)
        if key is None:
            return self.wsgi(environ, start_response)
        environ[ROUTE_KEY] = rule  # as metrics.note_route leaves it, whoever answers
        rid = request_id.from_header(environ.get("HTTP_X_REQUEST_ID", ""))
        token = logs.bind(request_id=rid)
        try:
            status, body = serve(environ, key, path)
        except Declined:
            status, body = 0, b""
        except Exception as exc:  # answered as the app answers it, hooks and all
            return self.flask_answer(environ, exc, key, rid)(environ, start_response)
        finally:
            logs.reset(token)
        if not status:
            return self.wsgi(environ, start_response)
        start_response(
            STATUS[status],
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                (request_id.HEADER, rid),
            ],
        )
        return [body]

    @staticmethod
    def is_job_read(environ: dict, path: str) -> bool:
        """A read of one job by a well-formed id (any other is Flask's 404), without options."""
        return (
            path.startswith(JOBS_PREFIX)
            and ids.JOB.matches(path[len(JOBS_PREFIX) :])
            and not environ.get("QUERY_STRING")
            and environ.get("CONTENT_LENGTH", "") in ("", "0")
            and "HTTP_TRANSFER_ENCODING" not in environ
        )

    def key(self, environ: dict, scope: str) -> auth.ApiKey | None:
        """The request's bearer key when it has scope; None leaves the answer to the app."""
        key = auth.bearer_key(environ.get("HTTP_AUTHORIZATION", ""), self.svc.api_keys)
        return key if key is not None and key.allows(scope) else None

    def windows(self, key: auth.ApiKey) -> tuple[Window, ...]:
        """The rate-limit windows the store's script counts for key."""
        return self.limiter.windows(key) if self.limiter is not None else ()

    def post_interaction(self, environ: dict, key: auth.ApiKey, _path: str) -> tuple[int, bytes]:
        """Store one plainly valid item; Declined for any other post."""
        length = plain_length(environ)
        if (
            not 0 < length <= self.svc.settings.max_body_bytes
            or not is_plain_json(environ)
            or IDEMPOTENCY in environ
        ):
            raise Declined
        data = read_body(environ, length)
        try:
            item = trusted.interaction(strict_loads(data))
        except (ValueError, RecursionError):
            item = None
        if item is None:
            raise Declined
        record = self.svc.store.interactions.add_many([item], limit=self.windows(key))[0]
        return 201, self.flask.json.response(trusted.created(record)).get_data()

    def read_job(self, environ: dict, key: auth.ApiKey, path: str) -> tuple[int, bytes]:
        """Read one job as GET /v1/jobs/{id} answers it."""
        job_id = path[len(JOBS_PREFIX) :]
        body = job_body(self.svc, self.flask.json, job_id, self.windows(key))
        if body is None:
            no_job(job_id)
        return 200, body if isinstance(body, bytes) else body.encode()

    def flask_answer(self, environ: dict, exc: Exception, key: auth.ApiKey, rid: str) -> Any:
        """The app's answer to exc raised by a request the lane took (its windows counted)."""
        with self.flask.request_context(environ):
            g.api_key, g.request_id = key, rid
            answer = self.flask.make_response(self.flask.handle_user_exception(exc))
            return self.flask.process_response(answer)


def read_body(environ: dict, length: int) -> bytes:
    """Read the declared body, and give the app a stream of the same bytes.

    A read that fails (too slow: RequestTimeout) is left to the app, whose own read then
    fails the same way.
    """
    stream = environ["wsgi.input"]
    try:
        data = stream.read(length)
    except Exception as exc:
        environ["wsgi.input"] = Failing(exc)
        raise Declined from exc
    environ["wsgi.input"] = io.BytesIO(data)
    return data


class Failing:
    """A body stream whose reads raise what the lane's read of the body raised."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def read(self, *_: object) -> bytes:
        """Raise the read's error again."""
        raise self.exc

    readline = read
