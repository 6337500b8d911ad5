"""Per-job stage outputs, written whole so a redelivered stage overwrites, never appends."""

import json
from collections.abc import Iterable, Iterator

from redis import Redis

from tuneloop.store import keys


class ArtifactStore:
    """JSON documents and row lists that stages hand to each other by key."""

    def __init__(self, redis: Redis, ttl: int = 7 * 86400) -> None:
        self.redis = redis
        self.ttl = ttl

    def put(self, jid: str, name: str, value: object) -> None:
        """Store one JSON document."""
        self.redis.set(keys.artifact(jid, name), json.dumps(value), ex=self.ttl)

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

    def put_rows(self, jid: str, name: str, batches: Iterable[list[dict]]) -> int:
        """Write rows batch by batch to a temporary list, then swap it in atomically."""
        final, tmp = keys.artifact(jid, name), keys.artifact(jid, f"{name}:tmp")
        self.redis.delete(tmp)
        count = 0
        for batch in batches:
            if batch:
                self.redis.rpush(tmp, *(json.dumps(r) for r in batch))
                self.redis.expire(tmp, self.ttl)  # a crash mid-write leaves nothing forever
                count += len(batch)
        pipe = self.redis.pipeline(transaction=True)
        if count:
            pipe.rename(tmp, final).expire(final, self.ttl)
        else:
            pipe.delete(final)
        pipe.execute()
        return count

    def rows(self, jid: str, name: str, batch: int = 500) -> Iterator[list[dict]]:
        """Yield the rows of a list artifact in bounded batches."""
        key, start = keys.artifact(jid, name), 0
        while True:
            raw = self.redis.lrange(key, start, start + batch - 1)
            if not raw:
                return
            start += len(raw)
            yield [json.loads(r) for r in raw]

    def all_rows(self, jid: str, name: str) -> list[dict]:
        """Return every row of a list artifact."""
        return [r for b in self.rows(jid, name) for r in b]
