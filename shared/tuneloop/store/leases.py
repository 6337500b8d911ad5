"""Stage leases: at most one live runner per job stage, renewed while it runs."""

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis
from redis.exceptions import RedisError

from tuneloop.store import keys, scripts

ACQUIRE = scripts.source("lease_acquire")
RENEW = scripts.source("lease_renew")
RELEASE = scripts.source("lease_release")


class LeaseHeld(Exception):  # noqa: N818 - a condition, not an error
    """Another live runner holds the lease."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def holder_id() -> str:
    """Return a unique holder id: host, process id and a random part."""
    return f"{socket.gethostname()}|{os.getpid()}|{uuid.uuid4().hex[:8]}"


def _dead_local_pids(candidates: list[int]) -> str:
    dead = []
    for pid in candidates:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            dead.append(pid)
        except PermissionError:
            continue
    return "," + ",".join(map(str, dead)) + "," if dead else ""


class LeaseStore:
    """Leases as Redis keys with a time-to-live, renewed by a background thread."""

    def __init__(self, redis: Redis, ttl_ms: int = 30_000) -> None:
        self.redis, self.ttl_ms = redis, ttl_ms
        self._acquire = redis.register_script(ACQUIRE)
        self._renew = redis.register_script(RENEW)
        self._release = redis.register_script(RELEASE)

    def acquire(self, jid: str, stage: str, holder: str) -> None:
        """Take the stage's lease or raise LeaseHeld naming the live holder."""
        key, host = keys.lease(jid, stage), socket.gethostname()
        taken = self._acquire(keys=[key], args=[holder, self.ttl_ms, host, ""])
        if taken and taken.split("|")[0] == host:  # held on this host: by a live process?
            dead = _dead_local_pids([int(taken.split("|")[1])])
            taken = self._acquire(keys=[key], args=[holder, self.ttl_ms, host, dead])
        if taken:
            raise LeaseHeld(taken)

    def holds(self, jid: str, stage: str, holder: str) -> bool:
        """Return whether holder still holds the stage's lease."""
        return self.redis.get(keys.lease(jid, stage)) == holder

    @contextmanager
    def hold(self, jid: str, stage: str, holder: str) -> Iterator[None]:
        """Hold the lease for the duration of the block, renewing it every third of its TTL."""
        self.acquire(jid, stage, holder)
        key, stop = keys.lease(jid, stage), threading.Event()

        def renew() -> None:
            while not stop.wait(self.ttl_ms / 3000):
                try:
                    self._renew(keys=[key], args=[holder, self.ttl_ms])
                except RedisError:
                    continue  # Redis is away; the stage's own calls will retry or fail

        thread = threading.Thread(target=renew, name=f"lease-{stage}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)
            with contextlib.suppress(RedisError):  # if Redis is away, the lease expires
                self._release(keys=[key], args=[holder])
