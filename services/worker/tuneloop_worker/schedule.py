"""The scheduler's periodic tasks, listed once (python -m tuneloop_worker.beat sends them)."""

from tuneloop import contracts
from tuneloop.settings import Settings


def entries(settings: Settings) -> dict[str, dict]:
    """Return Celery beat's schedule: each entry's task and period in seconds.

    A tick not taken within its period expires in the queue: a busy or stopped worker never
    finds a backlog of ticks when it comes back.
    """
    every = settings.scheduler_interval
    return {
        "autopilot-tick": {
            "task": contracts.AUTOPILOT_TICK,
            "schedule": every,
            "options": {"expires": every},
        },
        # The webhook deliveries whose retry is due (a first attempt is queued at once).
        "webhooks-dispatch": {
            "task": contracts.WEBHOOK_DISPATCH,
            "schedule": every,
            "options": {"expires": every},
        },
    }
