"""Keep the messages a live worker holds from being handed to another worker."""

import logging
import time

from celery import bootsteps
from celery.worker import state
from redis import Redis
from redis.exceptions import RedisError

from tuneloop.store import keys

log = logging.getLogger(__name__)

# Refreshing a message's delivery time in kombu's unacked index marks it as still held by a
# live worker: kombu's restore sweep hands back only those older than the visibility timeout.


class VisibilityHeartbeat(bootsteps.StartStopStep):
    """Every heartbeat_interval, refresh the delivery time of this worker's messages."""

    requires = ("celery.worker.consumer.connection:Connection",)

    def __init__(self, parent: object, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self.tref = None
        self.redis: Redis | None = None

    def start(self, c: object) -> None:
        """Start the repeating refresh on the consumer's timer."""
        settings = c.app.conf.tuneloop_settings
        self.redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.tref = c.timer.call_repeatedly(settings.heartbeat_interval, self.beat)

    def beat(self) -> None:
        """Refresh every held message; XX so an acknowledged one is never added back."""
        requests = list(state.active_requests) + list(state.reserved_requests)
        tags = [r.message.delivery_tag for r in requests if r.message is not None]
        if not tags or self.redis is None:
            return
        try:
            self.redis.zadd(keys.KOMBU_UNACKED_INDEX, dict.fromkeys(tags, time.time()), xx=True)
        except RedisError as exc:
            log.warning("visibility heartbeat failed: %s", exc)

    def stop(self, c: object) -> None:
        """Stop refreshing."""
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
