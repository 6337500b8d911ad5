"""Per-job stage outputs, written whole so a redelivered stage overwrites, never appends.

Every artifact's name is recorded in the job's index, so a finished job's intermediates can
be freed in one step while what must stay (the filter's mask) is kept.
"""

import json

from redis import Redis
from redis.client import Pipeline

from tuneloop.store import keys
from tuneloop.store.blobs import BlobStore

# What a finished job keeps: the mask of kept rows and the ranks of a stratified holdout's
# inputs regenerate its training file.
HELD_OUT = "held_out"
KEPT_AFTER_JOB = frozenset({"kept", HELD_OUT})


class ArtifactStore:
    """JSON documents and binary blobs that stages hand to each other by name."""

    def __init__(self, redis: Redis, blobs: BlobStore, ttl: int = 7 * 86400) -> None:
        self.redis = redis
        self.blobs = blobs
        self.ttl = ttl

    def _register(self, jid: str, name: str, pipe: Pipeline | None = None) -> None:
        """Add name to the job's index (in one round trip, or queued on pipe)."""
        run = pipe if pipe is not None else self.redis.pipeline(transaction=False)
        run.sadd(keys.job_artifacts(jid), name)
        run.expire(keys.job_artifacts(jid), self.ttl)
        if pipe is None:
            run.execute()

    def put(self, jid: str, name: str, value: object) -> None:
        """Store one JSON document, registered first (one round trip)."""
        pipe = self.redis.pipeline(transaction=False)
        self._register(jid, name, pipe)
        pipe.set(keys.artifact(jid, name), json.dumps(value), ex=self.ttl)
        pipe.execute()

    def get(self, jid: str, name: str) -> object:
        """Return one JSON document; KeyError when the stage that writes it has not run."""
        raw = self.redis.get(keys.artifact(jid, name))
        if raw is None:
            raise KeyError(f"artifact {name!r} of job {jid} is missing")
        return json.loads(raw)

    def get_or_none(self, jid: str, name: str) -> object:
        """Return one JSON document, or None when it was never written."""
        raw = self.redis.get(keys.artifact(jid, name))
        return json.loads(raw) if raw is not None else None

    def put_blob(self, jid: str, name: str, data: bytes) -> int:
        """Store binary data of any size (chunked); return its size."""
        self._register(jid, name)
        size = self.blobs.put(keys.artifact(jid, name), data, ttl=self.ttl)
        self._register(jid, name)  # again: a release that ran meanwhile must still find it
        return size

    def get_blob(self, jid: str, name: str) -> bytes | None:
        """Return binary data, or None when it was never written."""
        return self.blobs.get(keys.artifact(jid, name))

    def release(self, jid: str, keep_for: int = 0, kept_until: int = 0) -> list[str]:
        """Free a finished job's intermediates (at once, or after keep_for seconds).

        What a finished job keeps is kept for good, or until the Unix time kept_until.
        """
        names = sorted(set(self.redis.smembers(keys.job_artifacts(jid))) - KEPT_AFTER_JOB)
        for name in names:
            key = keys.artifact(jid, name)
            if keep_for > 0:
                self.blobs.expire(key, keep_for)
            else:
                self.blobs.delete(key)
            self.redis.srem(keys.job_artifacts(jid), name)
        self.keep(jid, kept_until)
        return names

    def pin(self, jid: str) -> None:
        """Keep every artifact of a paused job (and its chunks) for good: a pause does not
        run out, and its resume needs them all (its checkpoint most of all)."""
        for name in self.redis.smembers(keys.job_artifacts(jid)):
            self.blobs.persist(keys.artifact(jid, name))
        self.redis.persist(keys.job_artifacts(jid))

    def unpin(self, jid: str) -> None:
        """Give a resumed (or cancelled) job's artifacts their time to live again."""
        for name in self.redis.smembers(keys.job_artifacts(jid)):
            self.blobs.expire(keys.artifact(jid, name), self.ttl)
        self.redis.expire(keys.job_artifacts(jid), self.ttl)

    def keep(self, jid: str, until: int = 0) -> None:
        """Keep what a finished job keeps (its mask) for good, or until the Unix time until."""
        for name in KEPT_AFTER_JOB:  # the job record has no expiry; its mask, not always
            self._keep(keys.artifact(jid, name), until)
        if until:
            self.redis.expireat(keys.job_artifacts(jid), until)
        else:
            self.redis.persist(keys.job_artifacts(jid))

    def _keep(self, key: str, until: int) -> None:
        """Keep a value and its chunks for good, or until the Unix time until."""
        if until:
            self.blobs.expire_at(key, until)
        else:
            self.blobs.persist(key)
