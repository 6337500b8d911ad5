"""gunicorn settings of the gateway: workers that keep serving others while clients are slow.

Every start of the gateway uses this module: ``gunicorn -c python:tuneloop_gateway.gunicorn_conf
tuneloop_gateway.app:create_app()``. gunicorn's precedence still holds, so GUNICORN_CMD_ARGS
and command-line options override these values; WEB_CONCURRENCY sets the number of workers.

A sync worker serves one connection at a time, so a few clients that send their headers a
byte at a time hold every worker (and gunicorn's worker timeout then kills the worker and any
request in it). A gevent worker serves each connection in a greenlet, up to
worker_connections at once, and gives a client ``keepalive`` seconds to deliver its request
line and headers; TUNELOOP_BODY_TIMEOUT bounds the time to deliver the body (see
tuneloop_gateway.slow_clients).
"""

import math
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker

from tuneloop.logs import resolve_format

worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Connections one worker serves at once; a slow client holds one of these, not a worker.
worker_connections = 1000
# In a gevent worker: the time a client has to send a request's line and headers, and how
# long an idle kept-alive connection stays open.
keepalive = 5
# A worker that does not report for this long is killed: only a CPU-bound request can stall
# a gevent worker that long (a 64 MiB body takes about 1 s of parsing).
timeout = 30
graceful_timeout = 30
# One access-log line per request on stderr, with the X-Request-ID the gateway answered with
# and the pid of the worker that answered (as JSON lines carry it), e.g. pid=<4242>.
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s pid=%(p)s'
# LOG_FORMAT json (auto: json unless stderr is a terminal): gunicorn's own lines and one
# JSON access line per request (method, path, status, bytes, duration_ms, request_id, address).
# Read when gunicorn loads this file, so that a bad value stops it before any worker starts.
logger_class = (
    "tuneloop_gateway.gunicorn_logs.JsonLogger"
    if resolve_format(os.environ.get("LOG_FORMAT", ""), sys.stderr) == "json"
    else "gunicorn.glogging.Logger"
)


def body_timeout_from_env(env: Mapping[str, str]) -> float:
    """Return TUNELOOP_BODY_TIMEOUT in seconds (default 60); RuntimeError unless positive."""
    raw = env.get("TUNELOOP_BODY_TIMEOUT", "").strip() or "60"
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not (math.isfinite(seconds) and seconds > 0):
        raise RuntimeError(f"TUNELOOP_BODY_TIMEOUT must be a positive number of seconds: {raw!r}")
    return seconds


# Read when gunicorn loads this file, so that a bad value stops it before any worker starts.
BODY_TIMEOUT = body_timeout_from_env(os.environ)


def post_worker_init(worker: Worker) -> None:
    """Bound the time a client may take to send a request body, in gevent workers."""
    from tuneloop_gateway import slow_clients  # imported once the worker has patched

    if slow_clients.patched():
        worker.wsgi = slow_clients.BodyDeadline(worker.wsgi, BODY_TIMEOUT)


# Request metrics: each worker writes its counts to files in PROMETHEUS_MULTIPROC_DIR; the
# master serves their sum with the pipeline metrics on TUNELOOP_METRICS_PORT (see
# tuneloop_gateway.metrics). _METRICS holds what the master made: the server, and the
# directory when it created one.
_METRICS: dict[str, Any] = {}


def metrics_dir(env: MutableMapping[str, str]) -> tuple[Path, bool]:
    """Return PROMETHEUS_MULTIPROC_DIR emptied of old counts, or a new one (and True), in env."""
    given = env.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if not given:
        path = Path(tempfile.mkdtemp(prefix="tuneloop-metrics-"))
        env["PROMETHEUS_MULTIPROC_DIR"] = str(path)
        return path, True
    path = Path(given)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):  # a previous run's counts would be added to this run's
        old.unlink()
    return path, False


def on_starting(server: Arbiter) -> None:
    """Set up the metrics directory before any worker is forked (workers inherit it)."""
    path, created = metrics_dir(os.environ)
    _METRICS["dir"], _METRICS["created"] = path, created


def when_ready(server: Arbiter) -> None:
    """Serve the metrics endpoint from the master (unless TUNELOOP_METRICS_PORT is 0)."""
    from tuneloop.settings import Settings
    from tuneloop_gateway import metrics

    _METRICS["server"] = metrics.serve(Settings.from_env(), str(_METRICS["dir"]))


def post_fork(server: Arbiter, worker: Worker) -> None:
    """Close the metrics server's socket in the worker: only the master serves it."""
    if (metrics_server := _METRICS.get("server")) is not None:
        metrics_server.socket.close()


def child_exit(server: Arbiter, worker: Worker) -> None:
    """Drop a dead worker's live gauges (its counters stay: they are still counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(_METRICS["dir"]))


def on_exit(server: Arbiter) -> None:
    """Remove the metrics directory the master created."""
    if _METRICS.get("created"):
        shutil.rmtree(_METRICS["dir"], ignore_errors=True)
