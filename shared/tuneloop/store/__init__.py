"""Tuneloop's records in Redis: interactions, jobs, events, artifacts and models."""

from redis import Redis

from tuneloop.store.artifacts import ArtifactStore
from tuneloop.store.interactions import InteractionStore
from tuneloop.store.jobs import JobStore
from tuneloop.store.models import ModelStore


class Store:
    """All of Tuneloop's Redis records behind one connection pool."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.interactions = InteractionStore(redis)
        self.jobs = JobStore(redis)
        self.artifacts = ArtifactStore(redis)
        self.models = ModelStore(redis)

    @classmethod
    def from_url(cls, url: str) -> "Store":
        """Connect lazily to the Redis at url."""
        return cls(Redis.from_url(url, decode_responses=True, health_check_interval=30))

    def ping(self) -> bool:
        """Return whether Redis answers."""
        return bool(self.redis.ping())
