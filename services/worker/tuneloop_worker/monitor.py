"""The Celery app Flower watches: `celery --app=tuneloop_worker.monitor:app flower`."""

from celery import Celery

from tuneloop.celery_config import celery_config
from tuneloop.settings import Settings

app = Celery("tuneloop-monitor")
app.conf.update(celery_config(Settings.from_env()))
