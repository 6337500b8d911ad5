"""The base of stage tasks: late acks, retries on Redis faults, waiting, failure recorded."""

import logging

from celery import Task
from celery.exceptions import Ignore
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tuneloop.errors import StageError, StageNotReady, StageSkipped
from tuneloop.pipeline import steps
from tuneloop.pipeline.runner import fail, run_stage
from tuneloop_worker.runtime import limits, store

log = logging.getLogger(__name__)

RETRY_OPTIONS = {
    "bind": True,
    "autoretry_for": (RedisConnectionError, RedisTimeoutError),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": False,
    "max_retries": 8,
}
# How many times a stage re-queues itself while it waits (for its inputs, or for the lease
# of a runner that may have died): with 2 s apart, about ten minutes.
MAX_WAITS = 300


class StageTask(Task):
    """A pipeline stage; when it fails for good, its job ends as failed."""

    acks_late = True
    reject_on_worker_lost = True

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        """Record an unexpected failure on the job; StageErrors are recorded already."""
        if isinstance(exc, StageError) or not args:
            return
        stage = self.name.rsplit(".", 1)[-1]
        code = "stage_wait_exhausted" if isinstance(exc, StageNotReady) else "stage_crashed"
        try:
            fail(store(), args[0], stage, code, f"{type(exc).__name__}: {exc}", limits())
        except RedisError:
            log.exception("job %s stage %s: could not record the failure", args[0], stage)


def run(task: StageTask, job_id: str, stage: str) -> str:
    """Run a stage; stop the chain when the job is over, re-queue while the stage must wait."""
    try:
        return run_stage(store(), job_id, stage, steps.STEPS[stage], limits())
    except StageSkipped as exc:
        log.info("job %s stage %s: not run: %s", job_id, stage, exc)
        raise Ignore() from exc
    except StageNotReady as exc:
        log.info("job %s stage %s: %s", job_id, stage, exc)
        if exc.lease_held and task.request.retries >= MAX_WAITS:
            # A live runner has held the stage all along: this is a duplicate; its own
            # message carries the stage on (and comes back if that runner dies).
            log.warning("job %s stage %s: duplicate gives way to %s", job_id, stage, exc.reason)
            raise Ignore() from exc
        raise task.retry(exc=exc, countdown=exc.countdown, max_retries=MAX_WAITS) from exc
