"""Workers and queues: the workers that answered, each queue's depth, the running stages."""

import logging
import time

from celery import Celery
from flask import jsonify, render_template
from kombu.exceptions import KombuError
from redis import Redis
from redis.exceptions import RedisError

from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE, WEBHOOKS_QUEUE
from tuneloop.contracts import PAUSING, RUNNING
from tuneloop.llm import spec
from tuneloop_gateway.auth import ADMIN
from tuneloop_gateway.extensions import project_store, services
from tuneloop_gateway.pages.site import bp, requires

log = logging.getLogger(__name__)
QUEUES = (PIPELINE_QUEUE, INTERACTIVE_QUEUE, WEBHOOKS_QUEUE, spec.QUEUE, spec.SERVE_QUEUE)
INSPECT_TIMEOUT = 1.0  # seconds the page waits for workers' replies
PRIORITY_SEP, PRIORITY_STEPS = "\x06\x16", (3, 6, 9)  # kombu's Redis lists of priorities 1-9
UNACKED = "unacked"  # kombu's hash of delivered messages not yet acknowledged
RUNNING_SHOWN = 100


def answered(celery: Celery) -> dict[str, list[str]] | None:
    """Each worker that answered within INSPECT_TIMEOUT, with the queues it consumes; None when
    the broker cannot be reached."""
    try:
        replies = celery.control.inspect(timeout=INSPECT_TIMEOUT).active_queues() or {}
    except (RedisError, OSError, KombuError) as exc:
        log.warning("workers page: the broker did not take the inspect: %s", exc)
        return None
    return {name: sorted(q.get("name", "?") for q in qs or []) for name, qs in replies.items()}


def depths(redis: Redis) -> dict[str, int] | None:
    """Messages waiting in each queue (every priority's list), or None when Redis fails."""
    pipe = redis.pipeline(transaction=False)
    for queue in QUEUES:
        for name in (queue, *(f"{queue}{PRIORITY_SEP}{step}" for step in PRIORITY_STEPS)):
            pipe.llen(name)
    pipe.hlen(UNACKED)
    try:
        counts = pipe.execute()
    except RedisError as exc:
        log.warning("workers page: queue depths not read: %s", exc)
        return None
    per = len(PRIORITY_STEPS) + 1
    found = {q: sum(counts[i * per : (i + 1) * per]) for i, q in enumerate(QUEUES)}
    return {**found, UNACKED: counts[-1]}


def running_jobs() -> list[dict]:
    """The project's running (and pausing) jobs, newest first, with their stage and progress."""
    jobs = project_store().jobs
    rows = [*jobs.page(RUNNING_SHOWN, status=RUNNING)[0], *jobs.page(20, status=PAUSING)[0]]
    return [
        {
            "id": j["id"],
            "status": j["status"],
            "stage": j["stage"],
            "percent": j["progress"]["percent"],
            "model": j["request"].get("model"),
            "started_at": j.get("started_at"),
        }
        for j in rows
    ]


def snapshot() -> dict:
    """Everything the page shows, read now (about INSPECT_TIMEOUT seconds)."""
    svc = services()
    started = time.monotonic()
    workers = answered(svc.celery)
    queues = depths(svc.store.redis)
    return {
        "workers": workers,
        "queues": None if queues is None else {q: queues[q] for q in QUEUES},
        "unacked": None if queues is None else queues[UNACKED],
        "consumers": {q: sorted(w for w, qs in (workers or {}).items() if q in qs) for q in QUEUES},
        "running": running_jobs(),
        "inspect_timeout": INSPECT_TIMEOUT,
        "seconds": round(time.monotonic() - started, 3),
    }


@bp.get("/workers")
@requires(ADMIN)
def workers() -> object:
    """Show the workers that answered, each queue's depth and the running stages."""
    return render_template("workers.html", **snapshot())


@bp.get("/workers.json")
@requires(ADMIN)
def workers_json() -> object:
    """The same as JSON."""
    return jsonify(snapshot())
