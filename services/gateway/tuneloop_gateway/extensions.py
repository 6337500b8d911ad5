"""What the gateway holds per app: the store, a Celery client and the key digest."""

from dataclasses import dataclass

from celery import Celery
from flask import current_app

from tuneloop.celery_config import celery_config
from tuneloop.settings import Settings
from tuneloop.store import Store


@dataclass
class Services:
    """The gateway's connections, built once by the app factory."""

    settings: Settings
    store: Store
    celery: Celery
    key_digest: bytes


def build_celery(settings: Settings) -> Celery:
    """Build a Celery client that only sends tasks and reads results."""
    app = Celery("tuneloop-gateway", set_as_current=False)
    app.conf.update(celery_config(settings))
    return app


def services() -> Services:
    """Return the current app's services."""
    return current_app.extensions["tuneloop"]
