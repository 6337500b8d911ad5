"""Deliveries as the webhooks worker makes them: one attempt of a claimed delivery, and the
dispatch of the deliveries whose attempt is due (their retries, and any not queued at once)."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tuneloop.webhooks import schedule, send
from tuneloop.webhooks.schedule import DEFAULT_DELAYS

if TYPE_CHECKING:
    from tuneloop.store import Store

log = logging.getLogger(__name__)
DISPATCH_BATCH = 200  # deliveries one dispatch claims at most


@dataclass(frozen=True)
class Options:
    """How attempts are made: the retry delays, the time one may take, private targets."""

    delays: tuple[float, ...] = DEFAULT_DELAYS
    timeout: float = 10.0
    allow_private: bool = False


def attempt(
    store: "Store", delivery_id: str, token: str, options: Options, post: Callable = send.post
) -> str:
    """Make one attempt of a delivery claimed with token, and settle it; return its status
    afterwards ("skipped" when the claim is no longer the token's or the delivery is gone)."""
    record = store.webhooks.begin(delivery_id, token)
    endpoint = store.webhooks.get(record["webhook_id"]) if record is not None else None
    if record is None or endpoint is None:
        log.info("webhook delivery %s: not attempted (claimed again, or deleted)", delivery_id)
        return "skipped"
    body = record["body"].encode()
    headers = send.signed_headers(endpoint["secret"], record["event_id"], body, datetime.now(UTC))
    outcome = post(endpoint["url"], body, headers, options.timeout, options.allow_private)
    updated, due = schedule.after_attempt(record, outcome, time.time(), options.delays)
    kept = store.webhooks.settle(updated, token, due)
    log.info(
        "webhook delivery %s (%s %s) attempt %d: %s in %d ms, now %s%s",
        delivery_id,
        record["event_type"],
        record["event_id"],
        updated["attempts"],
        outcome.status_code or outcome.error,
        outcome.duration_ms,
        updated["status"],
        "" if kept else " (not recorded: claimed again or deleted)",
    )
    return updated["status"]


def dispatch(store: "Store", queue: Callable[[str, str], None], limit: int = DISPATCH_BATCH) -> int:
    """Claim the deliveries whose attempt is due and queue one attempt of each; return how
    many. A claim a worker never begins ends after store.webhook_deliveries.CLAIM_SECONDS."""
    claimed = store.webhooks.claim_due(limit)
    for delivery_id, token in claimed:
        queue(delivery_id, token)
    return len(claimed)
