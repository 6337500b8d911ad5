"""Keep a worker alive when Redis drops, or refuses writes, while it holds messages.

Two faults of kombu's Redis transport (5.7) end a worker that should live on:

- When Celery closes a connection that Redis just dropped, restoring the channel's
  unacknowledged messages builds a client from a connection already torn down and raises
  AttributeError; the same happens to an ack sent on such a channel.
- When Redis is at maxmemory (noeviction), an ack is refused: kombu removes the message from
  its unacked index inside MULTI, and Redis refuses every command queued in a transaction
  while it is full (ZREM and HDEL alone are allowed). The restore sweep's lock (SET NX) and a
  requeue (LPUSH) are refused too. Celery treats these errors as unrecoverable and exits.

So an ack removes the message with plain pipelined HDEL then ZREM (what Redis still accepts
when full; a fault between the two leaves an index entry the restore sweep drops), and a
fault in these calls is logged instead of ending the worker. Nothing is lost by skipping
one: the message stays in kombu's `unacked` hash, this worker's heartbeat keeps the ones it
still runs, and the restore sweep hands the others back after the visibility timeout.
Stages are idempotent, so a message acknowledged late or twice does no harm.
"""

import functools
import logging
from collections.abc import Callable

from kombu.transport import redis as kombu_redis

from tuneloop.store.outage import TRANSIENT

log = logging.getLogger(__name__)

TOLERATED = (AttributeError, *TRANSIENT)


def _tolerate_faults(method: Callable) -> Callable:
    """Wrap a QoS method so a torn-down channel or a Redis fault logs instead of killing."""

    @functools.wraps(method)
    def wrapper(self: kombu_redis.QoS, *args: object, **kwargs: object) -> object:
        try:
            return method(self, *args, **kwargs)
        except TOLERATED as exc:
            log.warning("redis transport: %s skipped: %s: %s", method.__name__, type(exc), exc)
            return None

    wrapper.__tuneloop_patched__ = True
    return wrapper


def _remove_from_indices(self: kombu_redis.QoS, delivery_tag: str, pipe: object = None) -> object:
    """Queue the removal of a message from the unacked hash and index, outside MULTI."""
    if pipe is not None:  # inside kombu's own restore transaction: keep it there
        return pipe.hdel(self.unacked_key, delivery_tag).zrem(self.unacked_index_key, delivery_tag)
    with self.channel.conn_or_acquire() as client:
        removal = client.pipeline(transaction=False)
    return removal.hdel(self.unacked_key, delivery_tag).zrem(self.unacked_index_key, delivery_tag)


_remove_from_indices.__tuneloop_patched__ = True


def apply() -> None:
    """Patch kombu's Redis QoS once per process."""
    if not getattr(kombu_redis.QoS._remove_from_indices, "__tuneloop_patched__", False):
        kombu_redis.QoS._remove_from_indices = _remove_from_indices
    for name in ("restore_unacked", "restore_visible", "ack", "reject"):
        method = getattr(kombu_redis.QoS, name)
        if not getattr(method, "__tuneloop_patched__", False):
            setattr(kombu_redis.QoS, name, _tolerate_faults(method))
