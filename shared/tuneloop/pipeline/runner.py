"""The life cycle every stage shares: ordering, leases, crash counting, start, finish, failure,
and the pause: a pausing or paused job starts no stage, and the last runner of a pausing job
settles it paused."""

import functools
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from tuneloop import contracts, failpoints, graph
from tuneloop.errors import (
    JobCancelled,
    JobPaused,
    StageError,
    StageNotReady,
    StagePaused,
    StageSkipped,
)
from tuneloop.store import Store
from tuneloop.store.leases import LeaseHeld, holder_id
from tuneloop.store.outage import persist
from tuneloop.webhooks import emit as webhooks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """How often a stage may die mid-run, how long to wait, and what a job may keep."""

    max_crashes: int = 3
    retry_after: float = 2.0
    max_model_bytes: int = 256 * 1024 * 1024
    keep_intermediates: int = 0  # seconds a finished job's intermediates are kept
    outage_grace: float = 300.0  # seconds to wait for Redis to take a write again
    checkpoint_interval: float = 0.25  # least seconds between fine-tuning checkpoints
    embed_part_size: int = 256  # texts per part of the embed stage


# A stage returns None, or the job result when it is the last stage.
StageWork = Callable[[Store, dict, Limits], dict | None]


@functools.cache
def work_of(stage: str) -> StageWork:
    """Return the function the stage graph names for stage (imported on first use)."""
    module, _, name = graph.BY_NAME[stage].work.partition(":")
    return getattr(importlib.import_module(module), name)


def run_stage(
    store: Store, job_id: str, stage: str, work: StageWork, limits: Limits = Limits()
) -> str:
    """Run one stage of a job at most once to completion; return the job id."""
    job = store.jobs.get(job_id)
    if job is None:
        raise StageSkipped(f"job {job_id} does not exist")
    if job["status"] in contracts.TERMINAL:
        tidy(store, job_id, limits)  # once more costs nothing
        raise StageSkipped(f"job {job_id} is {job['status']}")
    if job["status"] in contracts.HALTED:  # before the done check: nothing passes on
        settle_pause(store, job_id, stage, f"before {stage}", limits)
        raise StagePaused(f"job {job_id} is {job['status']}: {stage} waits for its resume")
    done = store.jobs.steps_done(job_id)
    if stage in done:
        log.info("job %s stage %s: already done, passing on", job_id, stage)
        return job_id
    # The canvas already orders the stages; this guard keeps a redelivered or duplicated
    # message from running one early.
    missing = [p for p in graph.NEEDS[stage] if p not in done]
    if missing and stage in graph.JOINS:
        raise StageSkipped(f"{stage} left to the branch that finishes {', '.join(missing)}")
    if missing:
        raise StageNotReady(f"{stage} waits for {', '.join(missing)}", limits.retry_after)
    holder = holder_id()  # counts this start once; also the fencing token it publishes under
    try:
        # The lease comes first: a second delivery of a stage that is running (both branches
        # of a fork sending the join) waits without counting a start, so a live run is never
        # taken for a crash. Holding it, every start that never ended was a death.
        with store.leases.hold(job_id, stage, holder):
            # Redis may run the start and lose the reply in an outage; the end below then
            # still matches it (and is a no-op for a start Redis never ran).
            started, crashes = store.deliveries.start(job_id, stage, holder)
            store.metrics.stage_crashes_seen(job_id, stage, crashes)
            if crashes >= limits.max_crashes:
                message = f"{stage} died {crashes} times without finishing (worker process lost)"
                fail(store, job_id, stage, "stage_crashed_repeatedly", message, limits)
                raise StageSkipped(message)
            failpoints.hit(stage, started)
            _run(store, {**job, "lease_holder": holder}, stage, work, limits)
    except LeaseHeld as held:
        raise StageNotReady(
            f"{stage} is running at {held.holder}", limits.retry_after, lease_held=True
        ) from None
    except StagePaused:
        settle_pause(store, job_id, stage, f"stopped at {stage}", limits)  # its lease released
        raise
    finally:
        # A live process records its end even across an outage: only a death counts as a crash.
        end = functools.partial(store.deliveries.end, job_id, stage, holder)
        persist(end, limits.outage_grace, f"{stage} end")
    return job_id


def _run(store: Store, job: dict, stage: str, work: StageWork, limits: Limits) -> None:
    job_id = job["id"]
    started = store.jobs.start_stage(job_id, stage)
    if started == "halted":
        raise StagePaused(f"job {job_id} was paused before {stage} started")
    if started != "started":
        raise StageSkipped(f"job {job_id} finished before {stage} started")
    log.info("job %s stage %s: started", job_id, stage)
    # The host that runs it (a container's id under compose), to find the worker of a stage.
    host = job["lease_holder"].split("|", 1)[0]
    store.jobs.add_event(
        job_id,
        f"{stage}:started",
        "stage.started",
        f"{stage} started on {host}",
        {"stage": stage, "host": host},
    )
    began = time.monotonic()
    try:
        result = work(store, job, limits)  # stages read only the job's id and request
    except StageError as exc:
        fail(store, job_id, stage, exc.code, exc.message, limits)
        raise
    except JobCancelled:
        log.info("job %s stage %s: stopped, the job was cancelled", job_id, stage)
        tidy(store, job_id, limits)
        raise StageSkipped(f"job {job_id} was cancelled during {stage}") from None
    except JobPaused:
        log.info("job %s stage %s: stopped at a pause, its checkpoint written", job_id, stage)
        raise StagePaused(f"job {job_id} paused during {stage}") from None
    store.jobs.complete_step(job_id, stage)
    record_finished(store, job_id, stage, time.monotonic() - began)
    log.info("job %s stage %s: finished", job_id, stage)
    if result is not None:
        finish(store, job_id, result, limits)


def record_finished(store: Store, job_id: str, stage: str, elapsed: float, **data: object) -> None:
    """Count a stage's run in the metrics and write its stage.finished event."""
    store.metrics.stage_finished(stage, elapsed)  # never raises
    seconds = round(elapsed, 3)
    store.jobs.add_event(
        job_id,
        f"{stage}:finished",
        "stage.finished",
        f"{stage} finished in {seconds:g}s",
        {"stage": stage, "seconds": seconds, **data},
    )


def finish(store: Store, job_id: str, result: dict, limits: Limits) -> None:
    """Record the success event, then end the job: its status (and any promotion) changes last."""
    model_id = result.get("model_id")  # an evaluation-only job has no model of its own
    promotion = result.get("promotion") or {}
    alias = None
    if promotion.get("promoted") and model_id:
        alias = (promotion["alias"], {"model_id": model_id, "job_id": job_id})
    store.jobs.add_event(
        job_id, "job:succeeded", "job.succeeded", "job succeeded", {"model_id": model_id}
    )
    if store.jobs.succeed(job_id, result, alias):
        log.info("job %s: succeeded with model %s", job_id, model_id)
        if alias is not None:
            log.info("job %s: model %s is now %s", job_id, model_id, alias[0])
    tidy(store, job_id, limits)


def fail(store: Store, job_id: str, stage: str, code: str, message: str, limits: Limits) -> None:
    """End the job as failed in stage, once; the error event is written before the status."""
    status = store.jobs.status(job_id)
    if status is None or status in contracts.TERMINAL:
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
    tidy(store, job_id, limits)


def settle_pause(store: Store, job_id: str, stage: str, why: str, limits: Limits) -> None:
    """Settle a pausing job as paused unless another stage (or a part) still carries it; a
    paused job keeps its intermediates for as long as it is paused. When its pause was
    withdrawn while stage stopped, raise StageNotReady: the stage runs again, so the job is
    not left running with nothing to carry it on."""
    settled = store.jobs.settle_pause(job_id, why)
    if settled == "settled":
        store.pin_paused_job(job_id)
        log.info("job %s: paused (%s)", job_id, why)
    elif settled == "withdrawn":
        reason = f"the pause of job {job_id} was withdrawn: {stage} runs again"
        raise StageNotReady(reason, limits.retry_after)


def tidy(store: Store, job_id: str, limits: Limits) -> None:
    """Tell the project's webhooks the job ended (once), then free its intermediates and the
    interaction versions only it still held."""
    webhooks.announce_end(store, job_id)  # records and queues only: never waits on HTTP
    store.release_ended_job(job_id, limits.keep_intermediates)
    reclaimed = store.reclaim_versions()
    if reclaimed:
        log.info("job %s: %d old interaction versions reclaimed", job_id, reclaimed)
