"""Per-process resources of a worker: the store and a small cache of loaded models."""

from functools import lru_cache

from celery import current_app

from tuneloop.contracts import WEBHOOK_DELIVER
from tuneloop.encoder import embedding
from tuneloop.pipeline.runner import Limits
from tuneloop.store import Store
from tuneloop.store.budget import Budget
from tuneloop.store.embeddings import EmbeddingCache


@lru_cache(maxsize=1)
def _store(
    redis_url: str,
    lease_ttl: float,
    cache_ttl: int,
    cache_entries: int,
    failed_job_ttl: int,
    max_bytes: int,
) -> Store:
    built = Store.from_url(
        redis_url, int(lease_ttl * 1000), failed_job_ttl, budget=Budget(max_bytes)
    )
    built.embeddings = EmbeddingCache(built.raw, cache_ttl, cache_entries)
    built.send_webhooks_with(queue_webhook_attempt)  # a job's end queues its deliveries
    return built


def queue_webhook_attempt(delivery_id: str, token: str) -> None:
    """Queue one attempt of a claimed webhook delivery on the webhooks queue."""
    current_app.send_task(WEBHOOK_DELIVER, args=(delivery_id, token), ignore_result=True)


def store() -> Store:
    """Return this process's store, built from the app's settings on first use."""
    settings = current_app.conf.tuneloop_settings
    return _store(
        settings.redis_url,
        settings.lease_ttl,
        settings.embed_cache_ttl,
        settings.embed_cache_max_entries,
        settings.failed_job_ttl,
        settings.max_project_bytes,
    )


def set_embedding_cache() -> None:
    """Make this process's agents read and fill the store's embedding cache (at start-up)."""
    embedding.set_cache(store().embeddings)


def limits() -> Limits:
    """Return the stage limits from the app's settings."""
    settings = current_app.conf.tuneloop_settings
    return Limits(
        max_crashes=settings.max_crashes,
        retry_after=min(2.0, settings.lease_ttl / 3),
        max_model_bytes=settings.max_model_bytes,
        keep_intermediates=settings.keep_intermediates,
        outage_grace=settings.outage_grace,
        checkpoint_interval=settings.checkpoint_interval,
        embed_part_size=settings.embed_part_size,
    )
