"""The webhook events of a job's end: emitted once, wherever the end is seen.

A job ends in a worker (runner.finish, runner.fail) or in the gateway (a cancel); every
place calls job_ended after the end is stored, and a stage message of a job that has ended
calls it again (runner.tidy), so an end whose process died before emitting is still told.
Each event's key is the job and the event type, so the second call emits nothing.
"""

import logging
from typing import TYPE_CHECKING

from tuneloop.contracts import TERMINAL
from tuneloop.webhooks import events

if TYPE_CHECKING:
    from tuneloop.store import Store

log = logging.getLogger(__name__)


def announce_end(store: "Store", job_id: str) -> None:
    """job_ended, which never fails its caller: a job's end stays stored when Redis refuses
    the events (a later stage message of the job, if any, emits them)."""
    try:
        job_ended(store, job_id)
    except Exception:
        log.exception("job %s: its webhook events were not emitted", job_id)


def job_ended(store: "Store", job_id: str) -> list[dict]:
    """Emit an ended job's end (and model.promoted when its success moved an alias) to its
    project's endpoints that take them; return the events emitted now."""
    project = store.jobs.project_of(job_id)
    if not store.webhooks.listening(project):
        return []
    job = store.scoped(project).jobs.get(job_id)
    if job is None or job["status"] not in TERMINAL:
        return []
    emitted = []
    told = [events.job_end(job), (events.MODEL_PROMOTED, events.promotion(job))]
    for event_type, data in [t for t in told if t is not None and t[1] is not None]:
        event = store.webhooks.emit(
            project,
            event_type,
            data,
            key=f"{job_id}:{event_type}",
            occurred_at=job["finished_at"],
        )
        if event is not None:
            log.info("job %s: webhook event %s %s emitted", job_id, event_type, event["id"])
            emitted.append(event)
    return emitted
