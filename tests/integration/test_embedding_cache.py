"""The embedding cache on a real Redis: counted once per text, expiring, capped."""

import time
from collections.abc import Iterator

import pytest
from redis import Redis

from tuneloop.store import keys
from tuneloop.store.embeddings import EmbeddingCache

from .support import Stack

pytestmark = pytest.mark.integration

TAG, DIM = "test-tag", 4


def vector(i: int) -> bytes:
    """Return a distinct float16 vector of DIM as bytes."""
    return bytes([i % 256]) * (2 * DIM)


@pytest.fixture
def raw(stack: Stack) -> Iterator[Redis]:
    """A bytes client of the session Redis, with no cache entry before or after the test."""
    redis = Redis.from_url(stack.redis_url)

    def clear() -> None:
        found = list(redis.scan_iter(match=keys.embedding(TAG, "*"), count=1000))
        if found:
            redis.delete(*found)
        redis.delete(keys.EMBEDDING_INDEX)

    clear()
    yield redis
    clear()
    redis.close()


def test_an_entry_is_read_back_and_counted_once(raw: Redis) -> None:
    cache = EmbeddingCache(raw, dim=DIM)
    assert cache.put_many(TAG, ["a", "b"], [vector(1), vector(2)]) == 2
    assert cache.put_many(TAG, ["b", "c"], [vector(9), vector(3)]) == 1  # b is kept as it was
    assert cache.get_many(TAG, ["a", "b", "x"]) == [vector(1), vector(2), None]
    assert cache.missing(TAG, ["a", "x", "c", "y"]) == ["x", "y"]
    stats = cache.stats()
    assert (stats.entries, stats.bytes) == (3, 3 * 2 * DIM)


def test_expired_entries_are_neither_read_nor_counted(raw: Redis) -> None:
    EmbeddingCache(raw, ttl=1, dim=DIM).put_many(TAG, ["short"], [vector(1)])
    cache = EmbeddingCache(raw, ttl=3600, dim=DIM)
    cache.put_many(TAG, ["long"], [vector(2)])
    deadline = time.monotonic() + 10
    while cache.get_many(TAG, ["short"]) != [None]:  # Redis expires it within about 1 s
        assert time.monotonic() < deadline, "the 1 s entry never expired"
        time.sleep(0.05)
    assert cache.stats().entries == 1
    assert cache.get_many(TAG, ["long"]) == [vector(2)]


def test_past_the_cap_the_entries_expiring_soonest_go(raw: Redis) -> None:
    EmbeddingCache(raw, ttl=100, max_entries=3, dim=DIM).put_many(
        TAG, ["soon1", "soon2"], [vector(1), vector(2)]
    )
    later = EmbeddingCache(raw, ttl=1000, max_entries=3, dim=DIM)
    later.put_many(TAG, ["late1", "late2", "late3"], [vector(3), vector(4), vector(5)])
    assert later.stats().entries == 3
    assert later.missing(TAG, ["soon1", "soon2", "late1", "late2", "late3"]) == ["soon1", "soon2"]
    assert raw.zcard(keys.EMBEDDING_INDEX) == 3


def test_the_metrics_count_the_live_entries(raw: Redis, stack: Stack) -> None:
    EmbeddingCache(raw, dim=DIM).put_many(TAG, ["m1", "m2"], [vector(1), vector(2)])
    assert stack.store.metrics.read().embeddings == 2
