"""The hot lane: the gateway's two most frequent requests, when plainly fine, served before Flask.

``POST /v1/interactions`` of one item and ``GET /v1/jobs/{id}`` without options are most of
a busy gateway's traffic: clients posting ratings, and pollers. For them Flask's
per-request machinery (request context, routing, eight hooks, flask-smorest's parsing and
dumping) cost more than the work itself. The lane is a driver of checks.py, the module
whose functions Flask's hooks and parser call too: it takes a request only when each of
them passes it (a known key with the endpoint's scope, and for a post a JSON body within
the size limit, without Idempotency-Key, that the accept-only path vouches for). It then
does what the endpoint's view does with the same functions (the key's rate limit counted in
the store's script, the same record, the job service's read and ETag, the same answer and
headers).

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
from werkzeug.http import quote_etag

from tuneloop import logs
from tuneloop.schemas.interactions import InteractionInSchema
from tuneloop.store import ids
from tuneloop_gateway import auth, checks, request_id, trusted
from tuneloop_gateway.extensions import Services
from tuneloop_gateway.idempotency import HEADER as IDEMPOTENCY_HEADER
from tuneloop_gateway.jobs_service import conditional, job_body, no_job
from tuneloop_gateway.metrics import ROUTE_KEY

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
Headers = list[tuple[str, str]]
POST_RULE, READ_RULE = "/v1/interactions", "/v1/jobs/<job_id>"
JOBS_PREFIX = "/v1/jobs/"
IDEMPOTENCY = "HTTP_" + IDEMPOTENCY_HEADER.upper().replace("-", "_")
PROJECT_ENVIRON = "HTTP_" + auth.PROJECT_HEADER.upper().replace("-", "_")
STATUS = {200: "200 OK", 201: "201 CREATED", 304: "304 NOT MODIFIED"}


class Declined(Exception):  # noqa: N818 - a decision, not an error
    """The lane leaves the request to Flask."""


def scope_of(app: Flask, endpoint: str, method: str) -> str:
    """The scope a view method declares (auth.requires), read once as auth reads it."""
    return auth.scope_of(auth.method_of(app.view_functions[endpoint], method))


def body_length(environ: dict) -> int | None:
    """The body's length as Flask reads it (checks.declared_length)."""
    return checks.declared_length(
        environ.get("CONTENT_LENGTH"), environ.get("HTTP_TRANSFER_ENCODING")
    )


class HotLane:
    """WSGI middleware: serves the plainly fine hot requests, hands the others to wsgi."""

    def __init__(self, app: Flask, wsgi: WsgiApp) -> None:
        self.flask, self.wsgi = app, wsgi
        self.svc: Services = app.extensions["tuneloop"]
        self.limiter = app.extensions.get("limiter")
        self.post_scope = scope_of(app, "interactions.Interactions", "POST")
        self.read_scope = scope_of(app, "jobs.Job", "GET")

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
        project = key and key.works_in(environ.get(PROJECT_ENVIRON, "").strip(), self.svc.projects)
        if key is None or project is None:
            return self.wsgi(environ, start_response)
        environ[ROUTE_KEY] = rule  # as metrics.note_route leaves it, whoever answers
        rid = request_id.from_header(environ.get("HTTP_X_REQUEST_ID", ""))
        token = logs.bind(request_id=rid)
        try:
            status, body, headers = serve(environ, key, project, path)
        except Declined:
            status, body, headers = 0, b"", []
        except Exception as exc:  # answered as the app answers it, hooks and all
            return self.flask_answer(environ, exc, key, project, rid)(environ, start_response)
        finally:
            logs.reset(token)
        if not status:
            return self.wsgi(environ, start_response)
        if status != 304:  # a 304 has no body, nor the headers that describe one
            headers = [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                *headers,
            ]
        start_response(STATUS[status], [*headers, (request_id.HEADER, rid)])
        return [body]

    @staticmethod
    def is_job_read(environ: dict, path: str) -> bool:
        """A read of one job by a well-formed id (any other is Flask's 404), without options."""
        return (
            path.startswith(JOBS_PREFIX)
            and checks.is_id(ids.JOB, path[len(JOBS_PREFIX) :])
            and not environ.get("QUERY_STRING")
            and "HTTP_TRANSFER_ENCODING" not in environ
            and not body_length(environ)
        )

    def key(self, environ: dict, scope: str) -> auth.ApiKey | None:
        """The request's bearer key when it has scope; None leaves the answer to the app."""
        key = checks.bearer_key(environ.get("HTTP_AUTHORIZATION", ""), self.svc.api_keys)
        return key if key is not None and key.allows(scope) else None

    def post_interaction(
        self, environ: dict, key: auth.ApiKey, project: str, _path: str
    ) -> tuple[int, bytes, Headers]:
        """Store one plainly valid item; Declined for any other post."""
        length = body_length(environ)
        if (
            "HTTP_TRANSFER_ENCODING" in environ  # the lane reads only a declared length
            or not length
            or checks.too_large(length, self.svc.settings.max_body_bytes)
            or not checks.is_json(environ.get("CONTENT_TYPE"))
            or IDEMPOTENCY in environ
        ):
            raise Declined
        item = checks.accepted_body(InteractionInSchema, read_body(environ, length))
        if item is None:
            raise Declined
        windows = checks.rate_windows(self.limiter, key)
        store = self.svc.store.scoped(project)
        record = store.interactions.add_many([item], limit=windows)[0]
        return 201, self.flask.json.response(trusted.created(record)).get_data(), []

    def read_job(
        self, environ: dict, key: auth.ApiKey, project: str, path: str
    ) -> tuple[int, bytes, Headers]:
        """Read one job as GET /v1/jobs/{id} answers it, with its ETag (304 when unchanged)."""
        job_id = path[len(JOBS_PREFIX) :]
        windows = checks.rate_windows(self.limiter, key)
        body = job_body(self.svc, self.flask.json, job_id, windows, project)
        if body is None:
            no_job(job_id)
        status, body, tag = conditional(body, environ.get("HTTP_IF_NONE_MATCH"))
        return status, body, [("ETag", quote_etag(tag))]

    def flask_answer(
        self, environ: dict, exc: Exception, key: auth.ApiKey, project: str, rid: str
    ) -> Any:
        """The app's answer to exc raised by a request the lane took (its windows counted)."""
        with self.flask.request_context(environ):
            g.api_key, g.project, g.request_id = key, project, rid
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
