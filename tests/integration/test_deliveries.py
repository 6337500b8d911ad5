"""Stage starts and ends are counted once per token, even when a command is sent twice."""

import uuid

import pytest

from tuneloop.store import Store

from .support import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def store(stack: Stack) -> Store:
    return Store.from_url(stack.redis_url)


def _job() -> str:
    return f"ftjob-test-{uuid.uuid4().hex}"


def test_a_start_sent_twice_counts_once(store: Store) -> None:
    jid = _job()
    assert store.deliveries.start(jid, "fine_tune", "a") == (1, 0)
    assert store.deliveries.start(jid, "fine_tune", "a") == (1, 0)  # redis-py's retry
    store.redis.delete(f"tuneloop:job:{jid}:deliveries")


def test_an_end_sent_twice_counts_once_and_a_start_never_ended_is_a_crash(store: Store) -> None:
    jid = _job()
    store.deliveries.start(jid, "fine_tune", "a")
    store.deliveries.end(jid, "fine_tune", "a")
    store.deliveries.end(jid, "fine_tune", "a")  # redis-py's retry
    store.deliveries.start(jid, "fine_tune", "b")  # then dies: never ends
    assert store.deliveries.start(jid, "fine_tune", "c") == (3, 1)
    assert store.deliveries.start(jid, "collect", "d") == (1, 0)  # per stage
    store.redis.delete(f"tuneloop:job:{jid}:deliveries")
