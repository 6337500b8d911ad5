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


# hit(k, n, a): count the n windows whose keys start at KEYS[k] and whose lengths and
# amounts are the pairs from ARGV[a]; return the refusal {'rate_limited', number of the first
# window over, its TTL} (see raise_if_over) or false. Errors (a full Redis) count nothing
# and refuse nothing.
HIT = """
local function hit(k, n, a)
  for i = 0, n - 1 do
    local key, amount = KEYS[k + i], tonumber(ARGV[a + 2 * i + 1])
    local count = redis.pcall('INCRBY', key, 1)
    if type(count) == 'number' then
      if count == 1 then redis.pcall('EXPIRE', key, ARGV[a + 2 * i]) end
      if count > amount then return {'rate_limited', i + 1, redis.call('TTL', key)} end
    end
  end
  return false
end
"""

# Count every window of KEYS (ARGV: their length/amount pairs) on its own.
HIT_ONLY = HIT + "return hit(1, #KEYS, 1)\n"


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
