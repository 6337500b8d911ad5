"""The base class of stage tasks: late acks, retries on Redis faults, failure recorded."""

import logging

from celery import Task
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tuneloop.errors import StageError
from tuneloop.pipeline.runner import fail
from tuneloop_worker.runtime import store

log = logging.getLogger(__name__)

RETRY_OPTIONS = {
    "autoretry_for": (RedisConnectionError, RedisTimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": 30,
    "max_retries": 8,
}


class StageTask(Task):
    """A pipeline stage; when it fails for good, its job ends as failed."""

    acks_late = True
    reject_on_worker_lost = True

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        """Record an unexpected failure on the job; StageErrors are recorded already."""
        if isinstance(exc, StageError) or not args:
            return
        stage = self.name.rsplit(".", 1)[-1]
        try:
            fail(store(), args[0], stage, "stage_crashed", f"{type(exc).__name__}: {exc}")
        except RedisError:
            log.exception("job %s stage %s: could not record the failure", args[0], stage)
