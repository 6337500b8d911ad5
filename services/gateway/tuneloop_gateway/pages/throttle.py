"""Failed sign-ins on the report pages, counted per client address: past the limit, 429.

TUNELOOP_LOGIN_FAILURE_LIMIT (default 10 per 15 minutes, the limits library's notation) is
counted in fixed windows in Redis, with the API's rate-limit script, so every gunicorn worker
and replica shares one count per address. An attempt is counted before its key is checked,
in the same step that refuses one over the limit, so concurrent guesses cannot pass the limit
together; a sign-in that succeeds takes its count back. A client is the remote address the
gateway sees (an IPv6 address by its /64, which one host usually holds whole), so one
client's failures never block another's sign-in. The count fails open when Redis cannot take
it, as the API's rate limit does: signing in then meets the same Redis anyway.
"""

import ipaddress
import logging

from limits import parse_many
from redis import Redis
from redis.exceptions import RedisError

from tuneloop.store import keys, ratelimit
from tuneloop.store.ratelimit import RateLimitedError, Window

log = logging.getLogger(__name__)
SETTING = "TUNELOOP_LOGIN_FAILURE_LIMIT"
PREFIX = f"{keys.RATE_LIMITS}:ui-login"


def client_of(address: str | None) -> str:
    """The client an address stands for: itself, or its /64 network for IPv6."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is 192.0.2.1
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class SignInThrottle:
    """Fixed windows of failed sign-ins per client address."""

    def __init__(self, redis: Redis, limit: str) -> None:
        self.limits = parse_many(limit) if limit else []
        self._hit = redis.register_script(ratelimit.HIT_ONLY)
        self._uncount = redis.register_script(ratelimit.UNCOUNT)

    def windows(self, client: str) -> tuple[Window, ...]:
        """The current windows of client's limit."""
        return tuple(
            Window(f"{PREFIX}:{item.key_for(client)}", item.get_expiry(), item.amount)
            for item in self.limits
        )

    def attempt(self, client: str) -> RateLimitedError | None:
        """Count an attempt of client; the refusal when its failures used up a window."""
        windows = self.windows(client)
        if not windows:
            return None
        try:
            outcome = self._hit(
                keys=ratelimit.window_keys(windows), args=ratelimit.window_args(windows)
            )
            ratelimit.raise_if_over(outcome)
        except RateLimitedError as refused:
            return refused
        except RedisError as exc:
            log.warning("sign-in throttle unavailable, attempt let through (fail open): %s", exc)
        return None

    def succeeded(self, client: str) -> None:
        """Take back the count of client's attempt: it was no failure."""
        windows = self.windows(client)
        if not windows:
            return
        try:
            self._uncount(keys=ratelimit.window_keys(windows))
        except RedisError as exc:
            log.warning("sign-in throttle could not take back a success's count: %s", exc)

    def describe(self, refused: RateLimitedError) -> str:
        """The limit a refusal used up, as configured."""
        return str(self.limits[refused.window])
