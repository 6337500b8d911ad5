"""Webhook deliveries: their log per endpoint, the claims attempts hold, redelivery, bounds.

A delivery is due in keys.WEBHOOKS_DUE (score: when). A worker claims it (a token in
keys.WEBHOOKS_CLAIMS, its due time moved to the claim's end, so one that dies mid-attempt
leaves it to the next claim), begins the attempt with the token, and settles it only while it
still holds the claim. Every step that resizes a delivery moves its project's usage
(webhook_deliveries) by as much.
"""

import json
import logging
import secrets
import time
from collections.abc import Callable

from redis import Redis

from tuneloop.contracts import DELIVERY_PENDING
from tuneloop.store import keys, paging, scripts
from tuneloop.timeutil import now

log = logging.getLogger(__name__)

CLAIM = scripts.source("webhook_claim")
BEGIN = scripts.source("webhook_begin")
SETTLE = scripts.source("webhook_settle")
REDELIVER = scripts.source("webhook_redeliver")
PRUNE = scripts.source("webhook_prune")
CLAIM_SECONDS = 60.0  # an attempt holds its delivery this long (> TUNELOOP_WEBHOOK_TIMEOUT)
KEEP_DELIVERIES = 500  # the newest deliveries an endpoint keeps
MAX_AGE = 30 * 86400  # seconds a delivery is kept at most (dropped when a newer event comes)
AGE_BATCH = 20  # the oldest deliveries looked at for their age at each event
Sender = Callable[[str, str], None]  # queue an attempt: (delivery id, claim token)


class DeliveryBusy(Exception):  # noqa: N818 - a refusal, answered 409
    """An attempt of the delivery is under way: it cannot be sent again until it ends."""


class DeliveryLog:
    """Deliveries and their claims: WebhookStore's part (it says which endpoints a view sees)."""

    def __init__(self, redis: Redis, sender: Sender | None = None) -> None:
        self.redis, self.sender = redis, sender
        self._claim = redis.register_script(CLAIM)
        self._begin = redis.register_script(BEGIN)
        self._settle = redis.register_script(SETTLE)
        self._redeliver = redis.register_script(REDELIVER)
        self._prune = redis.register_script(PRUNE)

    def get(self, wid: str) -> dict | None:
        """Return an endpoint's record when this view sees it (WebhookStore's)."""
        raise NotImplementedError

    def deliveries(self, wid: str, limit: int, after: str | None = None) -> tuple[list[dict], bool]:
        """Return up to limit of an endpoint's deliveries after the cursor, newest first."""
        index = keys.webhook_deliveries(wid)
        start = paging.start_after(self.redis, index, after, reverse=True)
        batches = (
            [json.loads(r) for r in self.redis.mget([keys.webhook_delivery(i) for i in chunk]) if r]
            for chunk in paging.ids_from(self.redis, index, start, "-inf", reverse=True)
        )
        return paging.first_page(batches, limit)

    def claim_due(self, limit: int = 100) -> list[tuple[str, str]]:
        """Claim up to limit deliveries whose attempt is due; return (delivery id, token) pairs."""
        at = time.time()
        found = self._claim(
            keys=[keys.WEBHOOKS_DUE, keys.WEBHOOKS_CLAIMS],
            args=[at, at + CLAIM_SECONDS, limit, secrets.token_hex(8)],
        )
        return list(zip(found[::2], found[1::2], strict=True))

    def begin(self, did: str, token: str) -> dict | None:
        """Start the attempt a claim's token was given for; return the delivery, or None when
        the claim is no longer the token's or the delivery is gone."""
        raw = self._begin(
            keys=[keys.WEBHOOKS_DUE, keys.WEBHOOKS_CLAIMS, keys.webhook_delivery(did)],
            args=[did, token, time.time() + CLAIM_SECONDS],
        )
        return json.loads(raw) if raw else None

    def settle(self, record: dict, token: str, due: float | None) -> bool:
        """Store a delivery after an attempt (due again at due, or ended); False when the claim
        was taken over meanwhile or the delivery deleted."""
        did = record["id"]
        settled = self._settle(
            keys=[
                keys.WEBHOOKS_DUE,
                keys.WEBHOOKS_CLAIMS,
                keys.webhook_delivery(did),
                keys.Space(record["project"]).usage,
            ],
            args=[did, token, json.dumps(record), "" if due is None else due],
        )
        return settled == 1

    def redeliver(self, wid: str, did: str) -> dict | None:
        """Send a delivery again at once (one more attempt for one that has ended); return it,
        None when there is no such delivery; DeliveryBusy while an attempt is under way."""
        if self.get(wid) is None:
            return None
        while True:
            raw = self.redis.get(keys.webhook_delivery(did))
            record = json.loads(raw) if raw else None
            if record is None or record["webhook_id"] != wid:
                return None
            at = now()
            again = {
                **record,
                "status": DELIVERY_PENDING,
                "next_attempt_at": at,
                "updated_at": at,
                "once": record["status"] != DELIVERY_PENDING,
            }
            token = self._token()
            outcome = self._redeliver(
                keys=[
                    keys.webhook_delivery(did),
                    keys.WEBHOOKS_DUE,
                    keys.WEBHOOKS_CLAIMS,
                    keys.Space(record["project"]).usage,
                ],
                args=[did, raw, json.dumps(again), time.time(), time.time() + CLAIM_SECONDS, token],
            )
            if outcome == "busy":
                raise DeliveryBusy(did)
            if outcome == "due":
                self._queue(did, token)
                return again
            if outcome == "missing":
                return None

    def prune(self, wid: str, space: keys.Space) -> int:
        """Drop an endpoint's deliveries past KEEP_DELIVERIES and the oldest past MAX_AGE."""
        index = keys.webhook_deliveries(wid)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcard(index).zrange(index, 0, AGE_BATCH - 1)
        count, oldest = pipe.execute()
        drop = oldest[: max(0, count - KEEP_DELIVERIES)]
        if len(drop) < len(oldest):  # those not dropped for the count: their age
            rest = oldest[len(drop) :]
            limit = now() - MAX_AGE
            found = self.redis.mget([keys.webhook_delivery(d) for d in rest])
            for did, raw in zip(rest, found, strict=True):
                if raw is None or json.loads(raw)["created_at"] >= limit:
                    break
                drop.append(did)
        if not drop:
            return 0
        return int(
            self._prune(
                keys=[index, keys.WEBHOOKS_DUE, keys.WEBHOOKS_CLAIMS, space.usage]
                + [keys.webhook_delivery(d) for d in drop],
                args=[len(drop), *drop],
            )
        )

    def _token(self) -> str:
        """A new claim token when this store sends its attempts itself, else '' (due now)."""
        return secrets.token_hex(8) if self.sender is not None else ""

    def _queue(self, did: str, token: str) -> None:
        """Queue an attempt of a delivery this store claimed; a refusal leaves it to dispatch."""
        if not token or self.sender is None:
            return
        try:
            self.sender(did, token)
        except Exception as exc:  # the broker refused: the claim ends, then dispatch sends it
            log.warning("webhook delivery %s: not queued now (%s); dispatch sends it", did, exc)


def delivery(did: str, wid: str, project: str, event: dict, body: str, at: int) -> dict:
    """A new delivery of an event to one endpoint: pending, due at once."""
    return {
        "id": did,
        "object": "webhook.delivery",
        "webhook_id": wid,
        "project": project,
        "event_id": event["id"],
        "event_type": event["type"],
        "status": DELIVERY_PENDING,
        "attempts": 0,
        "attempt_log": [],
        "created_at": at,
        "updated_at": at,
        "next_attempt_at": at,
        "last_attempt_at": None,
        "last_status_code": None,
        "last_error": None,
        "last_response": None,
        "once": False,
        "body": body,
    }
