"""Per-process resources of a worker: the store and a small cache of loaded models."""

from functools import lru_cache

from celery import current_app

from tuneloop.store import Store


@lru_cache(maxsize=1)
def _store(redis_url: str) -> Store:
    return Store.from_url(redis_url)


def store() -> Store:
    """Return this process's store, built from the app's settings on first use."""
    return _store(current_app.conf.tuneloop_settings.redis_url)
