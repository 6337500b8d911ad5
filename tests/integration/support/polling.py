"""Bounded polling: every wait in the tests has a deadline and says what it waited for."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T],
    timeout: float,
    describe: Callable[[], str],
    interval: float = 0.1,
) -> T:
    """Poll check until it returns something truthy; fail with describe() after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s: {describe()}")
        time.sleep(interval)
