"""Run the scheduler: `python -m tuneloop_worker.beat`.

Celery beat with RedBeat's scheduler: the schedule and each entry's last run live in Redis,
so a restarted scheduler neither fires early nor skips, and a lock in Redis lets only one
scheduler fire at a time. A second one waits on the lock and takes over when the first dies
(after TUNELOOP_SCHEDULER_LOCK_TIMEOUT seconds without its renewal).
"""

import os

from celery import Celery

from tuneloop.settings import Settings
from tuneloop.store import keys
from tuneloop_worker.celery_app import create_celery
from tuneloop_worker.schedule import entries

KEY_PREFIX = f"{keys.PREFIX}:beat:"  # RedBeat's keys: the schedule, its entries, the lock


def configure(app: Celery, settings: Settings) -> Celery:
    """Give the app its schedule and RedBeat's settings (the store's Redis, our prefix)."""
    app.conf.update(
        beat_schedule=entries(settings),
        beat_scheduler="redbeat.RedBeatScheduler",
        beat_max_loop_interval=settings.scheduler_interval,
        redbeat_redis_url=settings.redis_url,
        redbeat_redis_options={},
        redbeat_key_prefix=KEY_PREFIX,
        redbeat_lock_key=f"{KEY_PREFIX}lock",
        redbeat_lock_timeout=settings.scheduler_lock_timeout,
    )
    return app


def main() -> None:
    """Read settings from the environment and run the scheduler until stopped."""
    settings = Settings.from_env()
    app = configure(create_celery(settings), settings)
    app.Beat(loglevel=os.environ.get("LOG_LEVEL", "INFO")).run()


if __name__ == "__main__":
    main()
