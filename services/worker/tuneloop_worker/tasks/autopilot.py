"""The scheduler's pass over every autopilot (shared/tuneloop/autopilot/tick.py)."""

from celery import current_app, shared_task

from tuneloop import contracts
from tuneloop.agent import registry
from tuneloop.autopilot.tick import tick
from tuneloop.canvas import job_canvas
from tuneloop.store.jobs import Quota
from tuneloop_worker.runtime import store


def _queue(job_id: str, kind: str, model: str | None) -> None:
    """Send a job's canvas, its model kind's stages to their own queue (as the gateway does)."""
    queues = registry.stage_queues(model) if model else {}
    job_canvas(current_app, job_id, kind, queues).apply_async()


def _emit(project: str, event_type: str, data: dict, key: str) -> None:
    """Tell the project's webhook endpoints (once per key, however often a tick retries)."""
    store().webhooks.emit(project, event_type, data, key=key)


@shared_task(name=contracts.AUTOPILOT_TICK, ignore_result=True)
def autopilot_tick() -> dict:
    """Settle ended runs, start due ones, roll back disowned promotions; return what it did."""
    settings = current_app.conf.tuneloop_settings
    quota = Quota(settings.max_stored_jobs, settings.max_active_jobs)
    outcome = tick(store(), _queue, _emit, quota)
    return {"started": outcome.started, "settled": outcome.settled, "rolled": outcome.rolled_back}
