"""Keep a worker alive when Redis drops while it holds messages.

kombu's Redis transport (5.7) restores a channel's unacknowledged messages when the channel
closes. When Celery closes a connection that Redis just dropped, that restore builds a client
from a connection that is already torn down and raises AttributeError, which Celery treats as
unrecoverable: the worker exits instead of reconnecting. The same happens to an ack sent on
such a channel. Nothing is lost by skipping these calls: the messages stay in kombu's
`unacked` hash, this worker's heartbeat keeps the ones it is still running, and the restore
sweep hands the others back after the visibility timeout. Stages are idempotent, so a message
acknowledged late or twice does no harm.
"""

import functools
import logging
from collections.abc import Callable

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)


def _tolerate_torn_down_channel(method: Callable) -> Callable:
    """Wrap a QoS method so a torn-down channel logs a warning instead of killing the worker."""

    @functools.wraps(method)
    def wrapper(self: kombu_redis.QoS, *args: object, **kwargs: object) -> object:
        try:
            return method(self, *args, **kwargs)
        except AttributeError as exc:
            log.warning("redis channel already closed during %s: %s", method.__name__, exc)
            return None

    wrapper.__tuneloop_patched__ = True
    return wrapper


def apply() -> None:
    """Patch kombu's Redis QoS once per process."""
    for name in ("restore_unacked", "ack", "reject"):
        method = getattr(kombu_redis.QoS, name)
        if not getattr(method, "__tuneloop_patched__", False):
            setattr(kombu_redis.QoS, name, _tolerate_torn_down_channel(method))
