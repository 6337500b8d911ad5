"""The one place a Celery app is constructed; each service configures the app it gets."""

from typing import Any

from celery import Celery

from tuneloop.celery_config import celery_config
from tuneloop.settings import Settings


def create(settings: Settings, name: str, *, current: bool = False, **conf: Any) -> Celery:
    """Return a Celery app with the shared configuration, then the caller's overrides.

    Shared holds no app: the worker, the gateway's client, the health ping and Flower's
    monitor each call this with their settings (read at their start-up) and own name.
    """
    app = Celery(name, set_as_current=current)
    app.conf.update(celery_config(settings), **conf)
    return app
