"""Models: a public description plus the agent's saved bytes (chunked), loadable by any worker."""

import json

from redis import Redis

from tuneloop.store import keys
from tuneloop.store.blobs import BlobStore


class ModelStore:
    """Models saved under their id."""

    def __init__(self, redis: Redis, blobs: BlobStore) -> None:
        self.redis = redis
        self.blobs = blobs

    def save(self, meta: dict, payload: bytes) -> None:
        """Store a model's bytes, then its description; saving the same id again overwrites it."""
        self.blobs.put(keys.model(meta["id"]), payload)
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(keys.model_meta(meta["id"]), json.dumps(meta))
        pipe.zadd(keys.MODELS, {meta["id"]: meta["created_at"]})
        pipe.execute()

    def annotate(self, mid: str, **fields: object) -> None:
        """Add fields to a model's description (a no-op for an unknown model)."""
        meta = self.meta(mid)
        if meta is not None:
            self.redis.set(keys.model_meta(mid), json.dumps({**meta, **fields}))

    def meta(self, mid: str) -> dict | None:
        """Return a model's description, or None."""
        raw = self.redis.get(keys.model_meta(mid))
        return json.loads(raw) if raw else None

    def payload(self, mid: str) -> bytes | None:
        """Return a model's saved bytes, or None."""
        return self.blobs.get(keys.model(mid))

    def list(self) -> list[dict]:
        """Return every fine-tuned model's description, oldest first."""
        ids = self.redis.zrange(keys.MODELS, 0, -1)
        raw = self.redis.mget([keys.model_meta(i) for i in ids]) if ids else []
        return [json.loads(r) for r in raw if r]
