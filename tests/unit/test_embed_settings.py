"""The embed stage's settings, and the worker's embedding cache built from them."""

import os

from tuneloop.encoder import embedding, model
from tuneloop.settings import Settings


def test_the_embed_settings_have_their_defaults_and_are_read_from_the_environment() -> None:
    default = Settings.from_env({})
    assert (
        default.embed_part_size,
        default.embed_cache_ttl,
        default.embed_cache_max_entries,
        default.encoder_threads,
    ) == (256, 7 * 86400, 2_000_000, 1)
    given = Settings.from_env(
        {
            "TUNELOOP_EMBED_PART_SIZE": "32",
            "TUNELOOP_EMBED_CACHE_TTL": "3600",
            "TUNELOOP_EMBED_CACHE_MAX_ENTRIES": "1000",
            "TUNELOOP_ENCODER_THREADS": "2",
        }
    )
    assert (
        given.embed_part_size,
        given.embed_cache_ttl,
        given.embed_cache_max_entries,
        given.encoder_threads,
    ) == (32, 3600, 1000, 2)


def test_a_worker_process_embeds_through_the_stores_cache_with_the_settings(monkeypatch) -> None:
    from tuneloop_worker import runtime
    from tuneloop_worker.celery_app import create_celery

    monkeypatch.setenv(model.THREADS_ENV, "9")  # recorded: the worker sets it, the test undoes
    settings = Settings.from_env(
        {
            "TUNELOOP_EMBED_PART_SIZE": "32",
            "TUNELOOP_EMBED_CACHE_TTL": "3600",
            "TUNELOOP_EMBED_CACHE_MAX_ENTRIES": "1000",
            "TUNELOOP_ENCODER_THREADS": "2",
        }
    )
    create_celery(settings)  # the worker's app, made Celery's current app
    monkeypatch.setattr(embedding, "_cache", None)
    runtime.set_embedding_cache()  # what each pool process runs at start-up
    cache = runtime.store().embeddings
    assert embedding._cache is cache
    assert (cache.ttl, cache.max_entries) == (3600, 1000)
    assert runtime.limits().embed_part_size == 32
    assert os.environ[model.THREADS_ENV] == "2"  # read by tuneloop.encoder.model.load
