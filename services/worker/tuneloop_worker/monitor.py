"""The Celery app Flower watches: `celery --app=tuneloop_worker.monitor:app flower`."""

from tuneloop import celery_factory
from tuneloop.settings import Settings

app = celery_factory.create(Settings.from_env(), "tuneloop-monitor", current=True)
