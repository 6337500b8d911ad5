"""Responses stored per Idempotency-Key: claimed with SET NX, replayed until they expire.

One Redis string per (scope, key) holds JSON in one of two states:

- ``pending``: a request claimed the key and is being handled. The claim carries a random
  token and expires by itself after a lease, so a process that dies mid-request blocks the
  key for at most that long.
- ``done``: the response of the request that claimed the key, replayed to every request
  with the same key and fingerprint until the record expires.

Only the holder of the claim (same token) may complete or release it.
"""

import json
import uuid
from dataclasses import dataclass

from redis import Redis

from tuneloop.store import keys, scripts

PENDING = "pending"
DONE = "done"

COMPLETE_IF_HELD = scripts.source("idempotency_complete_if_held")
RELEASE_IF_HELD = scripts.source("idempotency_release_if_held")


@dataclass(frozen=True)
class Claim:
    """A claim this caller holds on a key: needed to complete or release it."""

    scope: str
    key: str
    value: str  # the exact pending JSON written, which doubles as the ownership token


class IdempotencyStore:
    """Claims on Idempotency-Keys and the responses stored under them."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._complete = redis.register_script(COMPLETE_IF_HELD)
        self._release = redis.register_script(RELEASE_IF_HELD)

    def claim(
        self, scope: str, key: str, fingerprint: str, lease_ms: int
    ) -> tuple[Claim | None, dict | None]:
        """Claim the key, or return the record already under it.

        Returns ``(claim, None)`` when this caller now holds the key, and ``(None, record)``
        when another request holds it (``record["state"]`` is ``pending``) or has completed
        it (``done``). ``(None, None)`` means the key was released or expired in between:
        try again.
        """
        value = json.dumps(
            {"state": PENDING, "fingerprint": fingerprint, "token": uuid.uuid4().hex}
        )
        name = keys.idempotency(scope, key)
        if self.redis.set(name, value, nx=True, px=lease_ms):
            return Claim(scope, key, value), None
        raw = self.redis.get(name)
        return None, (json.loads(raw) if raw is not None else None)

    def complete(self, claim: Claim, response: dict, ttl_s: int) -> bool:
        """Store the response under the claimed key for ttl_s seconds.

        Returns False when the claim was no longer held (its lease ran out), in which case
        nothing is written.
        """
        record = {**json.loads(claim.value), "state": DONE, "response": response}
        record.pop("token", None)
        name = keys.idempotency(claim.scope, claim.key)
        return bool(self._complete(keys=[name], args=[claim.value, json.dumps(record), ttl_s]))

    def release(self, claim: Claim) -> bool:
        """Give the key up so that a retry can claim it; False if it was no longer held."""
        name = keys.idempotency(claim.scope, claim.key)
        return bool(self._release(keys=[name], args=[claim.value]))

    def get(self, scope: str, key: str) -> dict | None:
        """Return the record under a key, if any."""
        raw = self.redis.get(keys.idempotency(scope, key))
        return json.loads(raw) if raw is not None else None
