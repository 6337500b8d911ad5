"""Webhook endpoints and their deliveries, per project, counted in the project's budget.

An endpoint (keys.webhook) is a JSON record with its project, URL, event types and signing
secret, listed in its project's list (keys.Space.webhooks). emit() records an event, in one
Lua step, as one delivery per endpoint of the project that takes its type: the event's body
as it will be sent, its status and attempts, listed under the endpoint and due at once in
keys.WEBHOOKS_DUE. Nothing is sent on the caller's thread: a worker claims a due delivery
(a token in keys.WEBHOOKS_CLAIMS, its due time moved to the claim's end, so one that dies
mid-attempt leaves it to the next claim), sends it, and settles it only while it still holds
the claim. A store with a sender (the worker's, the gateway's) claims what it records and
queues each first attempt itself.

Endpoint and delivery bytes count in the project's usage (kinds webhooks and
webhook_deliveries). A new endpoint past the budget is refused; a delivery never is (a job's
end must not fail on it), but an endpoint keeps only its newest KEEP_DELIVERIES deliveries,
and none older than MAX_AGE once a newer event comes.
"""

import base64
import json
import logging
import secrets
import time
from collections.abc import Callable

from redis import Redis

from tuneloop.contracts import DELIVERY_PENDING
from tuneloop.store import budget as budgets
from tuneloop.store import ids, keys, paging, scripts
from tuneloop.store.budget import NO_BUDGET, Budget
from tuneloop.timeutil import now
from tuneloop.webhooks import events

log = logging.getLogger(__name__)

ADD = scripts.source("webhook_add")
DELETE = scripts.source("webhook_delete")
EMIT = scripts.source("webhook_emit")
CLAIM = scripts.source("webhook_claim")
BEGIN = scripts.source("webhook_begin")
SETTLE = scripts.source("webhook_settle")
REDELIVER = scripts.source("webhook_redeliver")
PRUNE = scripts.source("webhook_prune")
SECRET_PREFIX = "whsec_"  # Standard Webhooks' secret format: whsec_ + base64 of the key
SECRET_BYTES = 32
CLAIM_SECONDS = 60.0  # an attempt holds its delivery this long (> TUNELOOP_WEBHOOK_TIMEOUT)
EVENT_TTL = 7 * 86400  # seconds an event's key is remembered (the same key emits once)
KEEP_DELIVERIES = 500  # the newest deliveries an endpoint keeps
MAX_AGE = 30 * 86400  # seconds a delivery is kept at most (dropped when a newer event comes)
AGE_BATCH = 20  # the oldest deliveries looked at for their age at each event
Sender = Callable[[str, str], None]  # queue an attempt: (delivery id, claim token)


class WebhookQuotaExceeded(Exception):  # noqa: N818 - a refusal, answered 429
    """The project has its most endpoints (TUNELOOP_WEBHOOK_MAX_ENDPOINTS)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class DeliveryBusy(Exception):  # noqa: N818 - a refusal, answered 409
    """An attempt of the delivery is under way: it cannot be sent again until it ends."""


class WebhookStore:
    """Endpoints and deliveries; given a project, that project's view (another project's
    endpoint reads as none). Without one (the workers), every endpoint is seen."""

    def __init__(
        self,
        redis: Redis,
        project: str | None = None,
        budget: Budget = NO_BUDGET,
        sender: Sender | None = None,
    ) -> None:
        self.redis, self.project, self.budget, self.sender = redis, project, budget, sender
        self.space = keys.Space(project or keys.DEFAULT_PROJECT)
        self._add = redis.register_script(ADD)
        self._delete = redis.register_script(DELETE)
        self._emit = redis.register_script(EMIT)
        self._claim = redis.register_script(CLAIM)
        self._begin = redis.register_script(BEGIN)
        self._settle = redis.register_script(SETTLE)
        self._redeliver = redis.register_script(REDELIVER)
        self._prune = redis.register_script(PRUNE)

    # -- endpoints -------------------------------------------------------------------------

    def create(
        self, url: str, event_types: list[str], description: str | None, max_endpoints: int = 0
    ) -> dict:
        """Store a new endpoint with a new signing secret; return its record (with the secret).

        WebhookQuotaExceeded at max_endpoints (0: no limit), BudgetExceeded past the budget.
        """
        wid = ids.new_webhook()
        record = {
            "id": wid,
            "object": "webhook_endpoint",
            "url": url,
            "events": event_types,
            "description": description,
            "created_at": now(),
            "project": self.space.project,
            "secret": SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode(),
        }
        seq = self.redis.incr(keys.WEBHOOK_SEQ)
        outcome = self._add(
            keys=[keys.webhook(wid), self.space.webhooks, self.space.usage],
            args=[json.dumps(record), wid, seq, max_endpoints, self.budget.max_bytes],
        )
        budgets.raise_if_over(outcome)
        if outcome == "full":
            raise WebhookQuotaExceeded(max_endpoints)
        return record

    def get(self, wid: str) -> dict | None:
        """Return an endpoint's record (with its secret), None when this view sees none."""
        raw = self.redis.get(keys.webhook(wid))
        record = json.loads(raw) if raw else None
        if record is None or self.project not in (None, keys.project_of(record)):
            return None
        return record

    def page(self, limit: int, after: str | None = None) -> tuple[list[dict], bool]:
        """Return up to limit of the project's endpoints after the cursor, newest first."""
        listed = self.space.webhooks
        start = paging.start_after(self.redis, listed, after, reverse=True)
        batches = (
            [json.loads(r) for r in self.redis.mget([keys.webhook(i) for i in chunk]) if r]
            for chunk in paging.ids_from(self.redis, listed, start, "-inf", reverse=True)
        )
        return paging.first_page(batches, limit)

    def listening(self, project: str) -> bool:
        """Whether the project has any endpoint (one cheap read before anything is emitted)."""
        return bool(self.redis.exists(keys.Space(project).webhooks))

    def delete(self, wid: str) -> bool:
        """Delete an endpoint and its deliveries in one step; False when there was none."""
        record = self.get(wid)
        if record is None:
            return False
        space = keys.Space(keys.project_of(record))
        index = keys.webhook_deliveries(wid)
        head = [keys.webhook(wid), space.webhooks, space.usage, index]
        while True:  # again only when an event added a delivery in between
            dids = self.redis.zrange(index, 0, -1)
            outcome = self._delete(
                keys=[*head, keys.WEBHOOKS_DUE, keys.WEBHOOKS_CLAIMS]
                + [keys.webhook_delivery(d) for d in dids],
                args=[wid, len(dids), *dids],
            )
            if outcome != "changed":
                return outcome == "deleted"

    # -- deliveries ------------------------------------------------------------------------

    def deliveries(self, wid: str, limit: int, after: str | None = None) -> tuple[list[dict], bool]:
        """Return up to limit of an endpoint's deliveries after the cursor, newest first."""
        index = keys.webhook_deliveries(wid)
        start = paging.start_after(self.redis, index, after, reverse=True)
        batches = (
            [json.loads(r) for r in self.redis.mget([keys.webhook_delivery(i) for i in chunk]) if r]
            for chunk in paging.ids_from(self.redis, index, start, "-inf", reverse=True)
        )
        return paging.first_page(batches, limit)

    def delivery(self, wid: str, did: str) -> dict | None:
        """Return one of an endpoint's deliveries, None when this view sees no such one."""
        if self.get(wid) is None:
            return None
        raw = self.redis.get(keys.webhook_delivery(did))
        record = json.loads(raw) if raw else None
        return record if record is not None and record["webhook_id"] == wid else None

    def emit(
        self,
        project: str,
        event_type: str,
        data: dict,
        key: str | None = None,
        occurred_at: int | None = None,
    ) -> dict | None:
        """Record an event of project for every endpoint that takes its type, in one step, and
        queue each first attempt when this store has a sender; return the event.

        None when no endpoint takes it, or key was emitted already (the same key is the same
        event id: a retried caller emits once). Endpoints created after occurred_at (default:
        now) do not get it. Never sends HTTP; never refused by the budget.
        """
        space = keys.Space(project)
        wids = self.redis.zrange(space.webhooks, 0, -1)
        if not wids:
            return None
        at = occurred_at or now()
        found = [json.loads(r) for r in self.redis.mget([keys.webhook(w) for w in wids]) if r]
        takers = [
            r for r in found if events.subscribed(r["events"], event_type) and r["created_at"] <= at
        ]
        if not takers:
            return None
        event_id = ids.event_for(project, key) if key else ids.new_event()
        created = now()
        event = events.payload(event_id, event_type, created, data)
        body = json.dumps(event, separators=(",", ":"))
        last = self.redis.incrby(keys.WEBHOOK_DELIVERY_SEQ, len(takers))
        rows = [
            (r["id"], ids.new_delivery(), last - len(takers) + 1 + i, self._token())
            for i, r in enumerate(takers)
        ]
        head = [keys.webhook_event(event_id), keys.WEBHOOKS_DUE, keys.WEBHOOKS_CLAIMS, space.usage]
        names, values = [], []
        for wid, did, seq, token in rows:
            names += [keys.webhook(wid), keys.webhook_deliveries(wid), keys.webhook_delivery(did)]
            record = delivery(did, wid, project, event, body, created)
            values += [did, json.dumps(record), seq, token]
        made = self._emit(
            keys=head + names,
            args=[EVENT_TTL, time.time(), time.time() + CLAIM_SECONDS, len(rows), *values],
        )
        if not made:
            return None
        for wid, did, _, token in rows:
            if did in made:
                self._queue(did, token)
                self.prune(wid, space)
        return event

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
