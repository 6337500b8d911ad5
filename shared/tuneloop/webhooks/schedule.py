"""When a failed delivery is tried again, and a delivery's state after an attempt (pure)."""

from dataclasses import dataclass

from tuneloop.contracts import DELIVERY_FAILED, DELIVERY_PENDING, DELIVERY_SUCCEEDED

# Seconds between a failed attempt and the next, as Standard Webhooks' reference service
# (Svix) retries: the first attempt at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
# 10 h; the eighth failure, about 27.6 h after the first attempt, gives the delivery up.
DEFAULT_DELAYS = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
LOGGED_ATTEMPTS = 10  # the newest attempts a delivery keeps in its log


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: the answer's status and first bytes, or the error."""

    status_code: int | None
    response: str = ""
    error: str | None = None
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        """Whether the endpoint took the event (any 2xx)."""
        return self.status_code is not None and 200 <= self.status_code < 300


def parse_delays(text: str) -> tuple[float, ...]:
    """Read comma-separated seconds (each 0 or more); ValueError saying what is wrong."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        delays = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"expected comma-separated seconds, not {text!r}") from None
    if any(not 0 <= d < float("inf") for d in delays):
        raise ValueError(f"every delay must be 0 or more seconds: {text!r}")
    return delays


def total_seconds(delays: tuple[float, ...]) -> float:
    """How long after the first attempt a delivery that always fails is given up."""
    return sum(delays)


def after_attempt(
    record: dict, outcome: Outcome, at: float, delays: tuple[float, ...]
) -> tuple[dict, float | None]:
    """Return the delivery after an attempt made at `at`, and when the next one is due (None:
    none, it succeeded or was given up).

    A 2xx succeeds. Otherwise the n-th attempt waits delays[n-1] for the next, until the
    delays run out; an attempt asked for by hand ("once", on a delivery that had ended) ends
    it either way.
    """
    attempts = record["attempts"] + 1
    entry = {
        "at": int(at),
        "status_code": outcome.status_code,
        "error": outcome.error,
        "response": outcome.response,
        "duration_ms": outcome.duration_ms,
    }
    due: float | None = None
    if outcome.ok:
        status = DELIVERY_SUCCEEDED
    elif record.get("once") or attempts > len(delays):
        status = DELIVERY_FAILED
    else:
        status, due = DELIVERY_PENDING, at + delays[attempts - 1]
    updated = {
        **record,
        "status": status,
        "attempts": attempts,
        "attempt_log": [*record.get("attempt_log", []), entry][-LOGGED_ATTEMPTS:],
        "last_attempt_at": int(at),
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "last_response": outcome.response,
        "next_attempt_at": None if due is None else int(due),
        "updated_at": int(at),
        "once": False,
    }
    return updated, due
