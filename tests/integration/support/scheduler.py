"""The scheduler's ticks as the worker logs them."""

from tuneloop_devstack.stack import Stack

from tuneloop import contracts

from .polling import wait_until


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
