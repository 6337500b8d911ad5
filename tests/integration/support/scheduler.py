"""A stack with the scheduler, and the scheduler's ticks as the worker logs them."""

import contextlib
from collections.abc import Iterator, Mapping

from tuneloop_devstack.stack import Stack

from tuneloop import contracts

from .polling import wait_until
from .stacks import private_stack


@contextlib.contextmanager
def scheduled_stack(prefix: str, env: Mapping[str, str]) -> Iterator[Stack]:
    """A private stack: Redis, a pipeline worker, the webhooks worker, the scheduler, a gateway."""
    with private_stack(prefix, env) as stack:
        stack.start_redis(appendfsync=None)
        stack.start_worker("worker", wait=False)
        stack.start_webhooks_worker(wait=False)
        stack.start_beat(wait=False)
        stack.start_gateway()
        stack.wait_worker("worker")
        stack.wait_worker("webhooks")
        stack.wait_beat()
        yield stack


def ticks_done(stack: Stack, worker: str = "webhooks") -> int:
    """How many autopilot ticks the worker (the webhooks worker takes them) has finished."""
    return sum(
        1
        for line in stack.log_text(worker).splitlines()
        if contracts.AUTOPILOT_TICK in line and "succeeded" in line
    )


def wait_ticks(stack: Stack, more: int = 2, worker: str = "webhooks") -> None:
    """Wait until the worker has finished `more` ticks past those done now."""
    start = ticks_done(stack, worker)
    wait_until(
        lambda: ticks_done(stack, worker) >= start + more,
        30,
        lambda: f"{more} ticks\n{stack.logs()}",
    )
