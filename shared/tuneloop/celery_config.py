"""Celery settings both services use, as plain data (no Celery import here)."""

from tuneloop.settings import Settings

INTERACTIVE_QUEUE = "tuneloop.interactive"
PIPELINE_QUEUE = "tuneloop.pipeline"
# Webhook deliveries: their own workers (an I/O pool), so a slow endpoint holds no stage's slot.
WEBHOOKS_QUEUE = "tuneloop.webhooks"


def celery_config(settings: Settings) -> dict:
    """Return the Celery configuration: JSON only, late acks, prefetch one."""
    transport = {
        "visibility_timeout": settings.visibility_timeout,
        # Sweep for messages of dead workers every restore_interval seconds (kombu >= 5.7).
        "unacked_restore_interval": settings.restore_interval,
        "unacked_restore_throttle": 1,
    }
    return {
        "broker_url": settings.redis_url,
        "result_backend": settings.redis_url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": transport,
        "result_backend_transport_options": transport,
        "result_expires": settings.result_expires,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": PIPELINE_QUEUE,
        "task_routes": {
            "tuneloop.models.*": {"queue": INTERACTIVE_QUEUE},
            "tuneloop.webhooks.*": {"queue": WEBHOOKS_QUEUE},
            # The scheduler's tick is light Redis work: on the webhooks worker's threads, it
            # never waits behind a fine-tuning stage.
            "tuneloop.autopilot.*": {"queue": WEBHOOKS_QUEUE},
        },
        "worker_hijack_root_logger": False,
        # On SIGTERM (remapped to a soft shutdown) running stages get this long to finish;
        # then they are cancelled and their messages go back to the queue for another worker.
        "worker_soft_shutdown_timeout": settings.soft_shutdown_timeout,
        "enable_utc": True,
    }
