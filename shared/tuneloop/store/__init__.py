"""Tuneloop's records in Redis: interactions, jobs, events, artifacts and models."""

from redis import Redis

from tuneloop.store.artifacts import ArtifactStore
from tuneloop.store.interactions import InteractionStore
from tuneloop.store.jobs import JobStore
from tuneloop.store.leases import LeaseStore
from tuneloop.store.models import ModelStore


class Store:
    """All of Tuneloop's Redis records behind one connection pool."""

    def __init__(self, redis: Redis, lease_ttl_ms: int = 30_000) -> None:
        self.redis = redis
        self.interactions = InteractionStore(redis)
        self.jobs = JobStore(redis)
        self.artifacts = ArtifactStore(redis)
        self.models = ModelStore(redis)
        self.leases = LeaseStore(redis, lease_ttl_ms)

    @classmethod
    def from_url(cls, url: str, lease_ttl_ms: int = 30_000) -> "Store":
        """Connect lazily to the Redis at url."""
        redis = Redis.from_url(url, decode_responses=True, health_check_interval=30)
        return cls(redis, lease_ttl_ms)

    def ping(self) -> bool:
        """Return whether Redis answers."""
        return bool(self.redis.ping())
