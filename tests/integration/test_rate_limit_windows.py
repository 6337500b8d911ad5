"""The rate-limit windows counted inside the store's scripts (tuneloop.store.ratelimit)."""

import secrets

import pytest

from tuneloop.store import ratelimit
from tuneloop.store.ratelimit import RateLimitedError, Window

from .support import Stack, training_items

pytestmark = pytest.mark.integration

ITEM = training_items(per_task=1)[0]


def window(seconds: int, amount: int) -> Window:
    return Window(f"tuneloop:ratelimit:test:{secrets.token_hex(8)}", seconds, amount)


def test_the_first_count_starts_the_window_and_later_ones_never_extend_it(stack: Stack) -> None:
    redis = stack.store.redis
    hit = redis.register_script(ratelimit.HIT_ONLY)
    w = window(30, 2)
    count = lambda: hit(keys=[w.key], args=[w.seconds, w.amount])  # noqa: E731
    assert count() is None and 0 < redis.ttl(w.key) <= 30
    redis.expire(w.key, 7)  # as if 23 s had passed
    assert count() is None
    refused = count()
    # The first window is over, with its own end, not a new one.
    assert refused in (["rate_limited", 1, 7], ["rate_limited", 1, 6]), refused
    assert int(redis.get(w.key)) == 3 and redis.ttl(w.key) <= 7


def test_a_counter_redis_cannot_increment_fails_open(stack: Stack) -> None:
    redis = stack.store.redis
    hit = redis.register_script(ratelimit.HIT_ONLY)
    w = window(30, 1)
    redis.hset(w.key, "not", "a counter")
    try:
        assert hit(keys=[w.key], args=[w.seconds, w.amount]) is None
        assert hit(keys=[w.key], args=[w.seconds, w.amount]) is None
    finally:
        redis.delete(w.key)


def test_a_batch_over_its_second_window_stores_nothing_and_names_that_window(
    stack: Stack,
) -> None:
    interactions = stack.store.interactions
    roomy, tight = window(60, 100), window(60, 1)
    before = interactions.count()
    interactions.add_many([ITEM], limit=(roomy, tight))
    with pytest.raises(RateLimitedError) as refused:
        interactions.add_many([ITEM, ITEM], limit=(roomy, tight))
    assert refused.value.window == 1 and 1 <= refused.value.retry_after <= 60
    assert interactions.count() == before + 1
    assert int(stack.store.redis.get(roomy.key)) == 2  # counted up to the window that refused
