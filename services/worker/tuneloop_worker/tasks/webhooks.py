"""Webhook deliveries, on their own queue: one attempt, and the dispatch of those due."""

from celery import current_app, shared_task
from redis.exceptions import RedisError

from tuneloop import contracts
from tuneloop.webhooks import delivery
from tuneloop_worker.runtime import queue_webhook_attempt, store


def options() -> delivery.Options:
    """How this worker makes attempts, from the app's settings."""
    settings = current_app.conf.tuneloop_settings
    return delivery.Options(
        delays=settings.webhook_retry_delays,
        timeout=settings.webhook_timeout,
        allow_private=settings.webhook_allow_private,
    )


@shared_task(
    name=contracts.WEBHOOK_DELIVER,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(RedisError,),
    retry_backoff=True,
    max_retries=5,
)
def deliver(delivery_id: str, token: str) -> str:
    """POST one delivery's event to its endpoint, signed, and record the attempt."""
    return delivery.attempt(store(), delivery_id, token, options())


@shared_task(name=contracts.WEBHOOK_DISPATCH, ignore_result=True)
def dispatch() -> int:
    """Queue an attempt of every delivery whose retry is due (run every few seconds)."""
    return delivery.dispatch(store(), queue_webhook_attempt)
