"""Redis faults that pass: unreachable, timing out, loading, read-only, or full."""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

# Errors that say "Redis cannot take this now", not "this is wrong": waiting helps. A
# BusyLoadingError (Redis reading its append-only file) is a ConnectionError.
TRANSIENT: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OutOfMemoryError,
    ReadOnlyError,
)

T = TypeVar("T")


def backoff(attempt: int, first: float = 0.5, most: float = 10.0) -> float:
    """Seconds to wait before retry number attempt (0-based): doubling from first up to most."""
    return min(first * 2**attempt, most)


def persist(
    call: Callable[[], T],
    grace: float,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    retry_on: tuple[type[Exception], ...] = TRANSIENT,
) -> T:
    """Call until Redis takes it, retrying retry_on errors with backoff for up to grace s."""
    deadline, attempt = time.monotonic() + grace, 0
    while True:
        try:
            return call()
        except retry_on as exc:
            wait = backoff(attempt)
            if time.monotonic() + wait > deadline:
                raise
            if attempt == 0:
                log.warning("%s: Redis cannot take it now (%s); retrying", what, exc)
            sleep(wait)
            attempt += 1
