"""The base of stage tasks: late acks, retries on Redis faults, waiting, failure recorded."""

import logging

from celery import Task
from celery.exceptions import Reject, Retry
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from tuneloop import canvas, graph
from tuneloop.agent import registry
from tuneloop.errors import FannedOut, StageError, StageNotReady, StageSkipped
from tuneloop.pipeline import fanout
from tuneloop.pipeline.runner import fail, run_stage, work_of
from tuneloop.store.outage import TRANSIENT, backoff, persist
from tuneloop_worker.runtime import limits, store

log = logging.getLogger(__name__)

# Every stage task binds itself (it re-queues itself) and stores no result: the job record
# holds what a stage did, and a result Redis refuses to store must not fail a done stage.
TASK_OPTIONS = {"bind": True, "ignore_result": True}
# How many times a stage re-queues itself while it waits (for its inputs, for the lease of a
# runner that may have died, or for Redis to come back): with 2 s apart, about ten minutes.
MAX_WAITS = 300
# What Celery raises for a Redis fault outside the stage's own code: publishing the next
# stage, or storing a state.
INFRASTRUCTURE = (*TRANSIENT, OperationalError)


class StageTask(Task):
    """A pipeline stage; when it fails for good, its job ends as failed."""

    acks_late = True
    reject_on_worker_lost = True

    @property
    def stage(self) -> str:
        """Return the name of the stage this task runs."""
        return self.name.rsplit(".", 1)[-1]

    def log_fields(self, args: tuple) -> dict[str, str]:
        """Return the job and stage of a call: every line it logs carries them (log_setup)."""
        return {"job_id": args[0], "stage": self.stage} if args else {}

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        """Record an unexpected failure on the job; StageErrors are recorded already."""
        if isinstance(exc, StageError) or not args:
            return
        stage = self.stage
        if isinstance(exc, INFRASTRUCTURE):
            # Redis could not take a write Celery makes around the stage (the next stage's
            # message, most often). That is no fault of the job: the sweeper sends the stage
            # again once it sees the job has no message left.
            log.warning("job %s stage %s: Redis fault outside the stage: %s", args[0], stage, exc)
            return
        code = "stage_wait_exhausted" if isinstance(exc, StageNotReady) else "stage_crashed"
        try:
            fail(store(), args[0], stage, code, f"{type(exc).__name__}: {exc}", limits())
        except RedisError:
            log.exception("job %s stage %s: could not record the failure", args[0], stage)


def run(task: StageTask, job_id: str, stage: str) -> str:
    """Run a stage; stop the chain when the job is over, re-queue while the stage must wait."""
    try:
        return run_stage(store(), job_id, stage, work_of(stage), limits())
    except FannedOut as exc:
        # The plan is stored; its parts carry the job on, and the last one sends what follows.
        canvas.parts_canvas(task.app, job_id, stage, exc.parts).apply_async()
        log.info("job %s stage %s: %s", job_id, stage, exc)
        return end_chain(task, job_id)
    except StageSkipped as exc:
        log.info("job %s stage %s: not run: %s", job_id, stage, exc)
        return end_chain(task, job_id)
    except StageNotReady as exc:
        log.info("job %s stage %s: %s", job_id, stage, exc)
        if exc.lease_held and task.request.retries >= MAX_WAITS:
            # A live runner has held the stage all along: this is a duplicate; its own
            # message carries the stage on (and comes back if that runner dies).
            log.warning("job %s stage %s: duplicate gives way to %s", job_id, stage, exc.reason)
            return end_chain(task, job_id)
        retry = requeue(task, exc, exc.countdown, limits().outage_grace)
        store().metrics.stage_retried(stage, "waiting")  # once published: Redis takes writes
        raise retry from exc
    except TRANSIENT as exc:
        log.warning("job %s stage %s: Redis fault, will run again: %s", job_id, stage, exc)
        countdown = int(backoff(task.request.retries, first=1.0, most=30.0))  # 1, 2, 4 … 30 s
        retry = requeue(task, exc, countdown, limits().outage_grace)
        store().metrics.stage_retried(stage, "redis_fault")
        raise retry from exc


def end_chain(task: StageTask, job_id: str) -> str:
    """Succeed without sending the stages after this one (the job's record says why).

    Raising Ignore would stop the chain too, but leave the task STARTED for ever in Celery's
    monitors (Flower): every task ends in a final Celery state.
    """
    task.request.chain = task.request.callbacks = None
    return job_id


def requeue(task: StageTask, exc: Exception, countdown: float, grace: float) -> Retry:
    """Publish the stage's retry, waiting up to grace s for Redis to take it; return the Retry.

    Celery gives up on a retry it cannot publish (and drops the message); a stage that met
    an outage waits here for Redis instead, so the outage costs the job only time.
    """

    def publish() -> Retry:
        return task.retry(exc=exc, countdown=countdown, max_retries=MAX_WAITS, throw=False)

    try:  # Reject: Celery could not publish it
        return persist(publish, grace, f"{task.name} retry", retry_on=(Reject,))
    except Reject as refused:
        raise exc from refused


class PartTask(StageTask):
    """One part of a fanned-out stage (args: job id, part index); its failure fails the job."""

    @property
    def stage(self) -> str:
        """Return the name of the stage this part belongs to."""
        return self.name.removesuffix(graph.PART_SUFFIX).rsplit(".", 1)[-1]

    def log_fields(self, args: tuple) -> dict[str, str]:
        """Return the job, stage and part of a call."""
        return {**super().log_fields(args), "part": str(args[1])} if len(args) > 1 else {}


def run_part(task: PartTask, job_id: str, index: int) -> str:
    """Run one part; the part that completes the stage sends the stages after it."""
    stage = task.stage
    try:
        completed = fanout.run_part(store(), job_id, stage, index, limits())
    except StageSkipped as exc:
        log.info("job %s stage %s part %d: not run: %s", job_id, stage, index, exc)
        return job_id
    except TRANSIENT as exc:
        log.warning(
            "job %s stage %s part %d: Redis fault, will run again: %s", job_id, stage, index, exc
        )
        countdown = int(backoff(task.request.retries, first=1.0, most=30.0))
        raise requeue(task, exc, countdown, limits().outage_grace) from exc
    if completed:
        job = store().jobs.get(job_id) or {}
        model = job.get("request", {}).get("model")
        queues = registry.stage_queues(model) if model else {}
        rest = canvas.after_stage(task.app, job_id, stage, queues)
        if rest is not None:
            rest.apply_async()
    return job_id
