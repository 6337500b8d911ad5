"""Check an uploaded file's lines, off the gateway's request path."""

from celery import shared_task
from redis.exceptions import RedisError

from tuneloop import contracts
from tuneloop.files import process
from tuneloop_worker.runtime import store


@shared_task(
    name=contracts.CHECK_FILE,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(RedisError,),
    retry_backoff=True,
    max_retries=5,
)
def check_file(file_id: str) -> str:
    """Mark the file processed (with its summary) or error (naming its bad lines)."""
    return process.run(store(), file_id)
