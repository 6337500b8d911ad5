"""kombu's Redis transport against a Redis at maxmemory: acks go through, nothing raises.

At maxmemory (noeviction) Redis refuses every command queued inside MULTI, and kombu 5.7
acks inside MULTI; Celery then exits with "Unrecoverable error: OutOfMemoryError". These
tests drive kombu's own QoS, patched as the worker patches it, on a private redis-server.
"""

from collections.abc import Iterator

import pytest
import redis
from kombu import Connection

from tuneloop_worker import kombu_patch

from .support import private_stack

pytestmark = pytest.mark.integration

QUEUE = "kombu-full-test"


@pytest.fixture
def full_redis() -> Iterator[tuple[str, redis.Redis]]:
    """A private redis-server and a probe; the test fills it when it is ready."""
    with private_stack("tuneloop-kombu-") as stack:
        stack.start_redis(appendfsync=None)
        probe = stack.probe()
        try:
            yield stack.redis_url, probe
        finally:
            probe.close()


def _fill(probe: redis.Redis) -> None:
    probe.config_set("maxmemory-policy", "noeviction")
    probe.config_set("maxmemory", probe.info("memory")["used_memory"])
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        probe.set("one-more", "x" * 1000)


def test_an_ack_at_maxmemory_removes_the_message_from_the_unacked_hash(full_redis) -> None:
    url, probe = full_redis
    kombu_patch.apply()
    with Connection(url) as connection:
        queue = connection.SimpleQueue(QUEUE)
        queue.put({"n": 1})
        message = queue.get(timeout=5)
        tag = message.delivery_tag
        assert probe.hexists("unacked", tag)
        _fill(probe)
        message.ack()  # unpatched: OutOfMemoryError from ZREM queued in MULTI
        assert not probe.hexists("unacked", tag)
        assert probe.zscore("unacked_index", tag) is None
        queue.close()


def test_the_restore_sweep_at_maxmemory_logs_instead_of_raising(full_redis, caplog) -> None:
    url, probe = full_redis
    kombu_patch.apply()
    with Connection(url, transport_options={"visibility_timeout": 0}) as connection:
        queue = connection.SimpleQueue(QUEUE)
        queue.put({"n": 2})
        message = queue.get(timeout=5)
        _fill(probe)
        qos = connection.default_channel.qos
        qos.restore_visible(num=10, interval=1)  # unpatched: OutOfMemoryError (its SET NX lock)
        assert "restore_visible skipped" in caplog.text
        assert probe.hexists("unacked", message.delivery_tag)  # still safe, restored later
        probe.config_set("maxmemory", 0)
        queue.close()
