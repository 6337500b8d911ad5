"""The life cycle every stage shares: skip finished jobs, record start, finish and failure."""

import logging
from collections.abc import Callable

from tuneloop import contracts
from tuneloop.errors import StageError
from tuneloop.store import Store

log = logging.getLogger(__name__)

# A stage returns None, or the job result when it is the last stage.
StageWork = Callable[[Store, dict], dict | None]


def run_stage(store: Store, job_id: str, stage: str, work: StageWork) -> str:
    """Run one stage of a job unless the job has finished; return the job id."""
    job = store.jobs.get(job_id)
    if job is None:
        raise StageError("job_not_found", f"job {job_id} does not exist")
    if not store.jobs.start_stage(job_id, stage):
        log.info("job %s stage %s: skipped, job is %s", job_id, stage, job["status"])
        return job_id
    log.info("job %s stage %s: started", job_id, stage)
    store.jobs.add_event(
        job_id, f"{stage}:started", "stage.started", f"{stage} started", {"stage": stage}
    )
    try:
        result = work(store, store.jobs.get(job_id) or job)
    except StageError as exc:
        fail(store, job_id, stage, exc.code, exc.message)
        raise
    store.jobs.complete_step(job_id, stage)
    store.jobs.add_event(
        job_id, f"{stage}:finished", "stage.finished", f"{stage} finished", {"stage": stage}
    )
    log.info("job %s stage %s: finished", job_id, stage)
    if result is not None:
        finish(store, job_id, result)
    return job_id


def finish(store: Store, job_id: str, result: dict) -> None:
    """Record the success event, then end the job: its status changes last."""
    store.jobs.add_event(
        job_id, "job:succeeded", "job.succeeded", "job succeeded", {"model_id": result["model_id"]}
    )
    if store.jobs.succeed(job_id, result):
        log.info("job %s: succeeded with model %s", job_id, result["model_id"])


def fail(store: Store, job_id: str, stage: str, code: str, message: str) -> None:
    """End the job as failed in stage, once; the error event is written before the status."""
    job = store.jobs.get(job_id)
    if job is None or job["status"] in contracts.TERMINAL:
        return
    store.jobs.add_event(
        job_id,
        f"{stage}:failed",
        "job.failed",
        message,
        {"stage": stage, "code": code},
        level="error",
    )
    if store.jobs.fail(job_id, stage, code, message):
        log.warning("job %s stage %s: failed with %s: %s", job_id, stage, code, message)
