"""Webhook endpoints and their deliveries, per project, counted in the project's budget.

An endpoint (keys.webhook) is a JSON record with its project, URL, event types and signing
secret, listed in its project's list (keys.Space.webhooks). emit() records an event, in one
Lua step, as one delivery per endpoint of the project that takes its type: the event's body
as it will be sent, its status and attempts, listed under the endpoint and due at once in
keys.WEBHOOKS_DUE. Nothing is sent on the caller's thread: a worker claims and sends it
(store/webhook_deliveries.py). A store with a sender (the worker's, the gateway's) claims what
it records and queues each first attempt itself.

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

from redis import Redis

from tuneloop.store import budget as budgets
from tuneloop.store import ids, keys, paging, prefixes, scripts
from tuneloop.store.budget import NO_BUDGET, Budget
from tuneloop.store.webhook_deliveries import (
    CLAIM_SECONDS,
    DeliveryLog,
    Sender,
    delivery,
)
from tuneloop.timeutil import now
from tuneloop.webhooks import events

log = logging.getLogger(__name__)

ADD = scripts.source("webhook_add")
DELETE = scripts.source("webhook_delete")
EMIT = scripts.source("webhook_emit")
SECRET_PREFIX = "whsec_"  # Standard Webhooks' secret format: whsec_ + base64 of the key
SECRET_BYTES = 32
EVENT_TTL = 7 * 86400  # seconds an event's key is remembered (the same key emits once)


class WebhookQuotaExceeded(Exception):  # noqa: N818 - a refusal, answered 429
    """The project has its most endpoints (TUNELOOP_WEBHOOK_MAX_ENDPOINTS)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class WebhookStore(DeliveryLog):
    """Endpoints, and their deliveries (DeliveryLog's); given a project, that project's view
    (another project's endpoint reads as none). Without one (the workers), every one is seen."""

    def __init__(
        self,
        redis: Redis,
        project: str | None = None,
        budget: Budget = NO_BUDGET,
        sender: Sender | None = None,
    ) -> None:
        DeliveryLog.__init__(self, redis, sender)
        self.project, self.budget = project, budget
        self.space = keys.Space(project or keys.DEFAULT_PROJECT)
        self._add = redis.register_script(ADD)
        self._delete = redis.register_script(DELETE)
        self._emit = redis.register_script(EMIT)

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

    def with_prefix(self, prefix: str, cap: int = 10) -> prefixes.Matches:
        """Return this view's webhook endpoints starting with prefix (newest first, up to cap)."""
        return prefixes.with_prefix(self.redis, self.space.webhooks, prefix, cap)

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
        sent = [(wid, did, token) for wid, did, _, token in rows if did in made]
        for _, did, token in sent:
            self._queue(did, token)
        for wid, _, _ in sent:  # after every first attempt is queued
            self.prune(wid, space)
        return event
