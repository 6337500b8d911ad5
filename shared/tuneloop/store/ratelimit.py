"""Fixed-window rate-limit counts, taken in the same script as a request's own Redis work.

A window is a counter key that expires after the window's length: each request adds one,
and a count over the window's amount refuses the request. The gateway passes a request's
windows to the store call that does its work, which counts them in the same script, before
anything is written, so an accepted request costs one round trip, not two; a refused one
writes nothing but the count. A Redis too full to count fails open (the work itself then
meets the same Redis).
"""

from collections.abc import Sequence
from typing import NamedTuple

from tuneloop.store import scripts


class Window(NamedTuple):
    """One window of one key's limit: its counter, its length and the requests it allows."""

    key: str
    seconds: int
    amount: int


class RateLimitedError(Exception):
    """A window of the request's limit is used up: nothing was done."""

    def __init__(self, window: int, retry_after: int) -> None:
        super().__init__(window, retry_after)
        self.window, self.retry_after = window, max(1, retry_after)


# Count every window of KEYS (ARGV: their length/amount pairs) on its own. A script that does
# a request's own work counts the windows with the same Lua piece (--#include rate_limit_hit).
HIT_ONLY = scripts.source("rate_limit_count")
# Take one count back from every window of KEYS still open (a request counted ahead of an
# outcome that does not count: a sign-in that succeeded).
UNCOUNT = scripts.source("rate_limit_uncount")


def window_keys(windows: Sequence[Window]) -> list[str]:
    """The windows' counter keys, for a script's KEYS."""
    return [w.key for w in windows]


def window_args(windows: Sequence[Window]) -> list[int]:
    """The windows' length/amount pairs, for a script's ARGV."""
    return [x for w in windows for x in (w.seconds, w.amount)]


def raise_if_over(outcome: object) -> None:
    """Raise RateLimitedError when a script answered hit's refusal."""
    if isinstance(outcome, list) and outcome and outcome[0] == "rate_limited":
        raise RateLimitedError(int(outcome[1]) - 1, int(outcome[2]))
