"""Fine-tuned models: weights and memory as JSON, plus a public description."""

import json

from redis import Redis

from tuneloop.store import keys


class ModelStore:
    """Models saved under their id, loadable by any worker."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def save(self, meta: dict, body: dict) -> None:
        """Store a model and its description; saving the same id again overwrites it."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(keys.model(meta["id"]), json.dumps(body))
        pipe.set(keys.model_meta(meta["id"]), json.dumps(meta))
        pipe.zadd(keys.MODELS, {meta["id"]: meta["created_at"]})
        pipe.execute()

    def meta(self, mid: str) -> dict | None:
        """Return a model's description, or None."""
        raw = self.redis.get(keys.model_meta(mid))
        return json.loads(raw) if raw else None

    def body(self, mid: str) -> dict | None:
        """Return a model's weights and memory, or None."""
        raw = self.redis.get(keys.model(mid))
        return json.loads(raw) if raw else None

    def list(self) -> list[dict]:
        """Return every fine-tuned model's description, oldest first."""
        ids = self.redis.zrange(keys.MODELS, 0, -1)
        raw = self.redis.mget([keys.model_meta(i) for i in ids]) if ids else []
        return [json.loads(r) for r in raw if r]
