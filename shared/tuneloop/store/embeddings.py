"""The embedding cache: one float16 vector per normalised text and encoder, with a TTL, counted.

Values are bytes here (tuneloop.encoder.embedding turns them into arrays): the gateway,
which builds the store too, loads no numpy.

Every entry is its own key (set with the TTL) and is listed in an index scored by its expiry,
so the cache knows how many entries (and bytes) it holds without scanning, and a cap drops
the entries expiring soonest. Reads never extend an entry's life: a job's own rows are read
within minutes of being encoded, and a text seen again after the TTL is simply encoded again.
"""

import time
from dataclasses import dataclass

from redis import Redis

from tuneloop.store import keys, scripts

PUT = scripts.source("embedding_put")
BATCH = 512  # keys per round trip


@dataclass(frozen=True)
class CacheStats:
    """How much the cache holds now."""

    entries: int
    bytes: int  # the vectors' bytes (keys and Redis's own overhead not counted)


class EmbeddingCache:
    """Embeddings of texts under an encoder's tag: get many, put many, count them."""

    def __init__(
        self, raw: Redis, ttl: int = 7 * 86400, max_entries: int = 2_000_000, dim: int = 384
    ) -> None:
        self.raw, self.ttl, self.max_entries, self.dim = raw, ttl, max_entries, dim
        self._put = raw.register_script(PUT)

    def get_many(self, tag: str, digests: list[str]) -> list[bytes | None]:
        """Return the float16 bytes of each digest's vector under tag, or None where none is."""
        out: list[bytes | None] = []
        for start in range(0, len(digests), BATCH):
            names = [keys.embedding(tag, d) for d in digests[start : start + BATCH]]
            for value in self.raw.mget(names) if names else []:
                out.append(value if value is not None and len(value) == 2 * self.dim else None)
        return out

    def missing(self, tag: str, digests: list[str]) -> list[str]:
        """Return the digests that have no cached vector under tag, in order."""
        out: list[str] = []
        for start in range(0, len(digests), BATCH):
            part = digests[start : start + BATCH]
            pipe = self.raw.pipeline(transaction=False)
            for d in part:
                pipe.exists(keys.embedding(tag, d))
            out.extend(d for d, there in zip(part, pipe.execute(), strict=True) if not there)
        return out

    def put_many(self, tag: str, digests: list[str], vectors: list[bytes]) -> int:
        """Cache vectors (float16 bytes each) under their digests; return how many were new."""
        if len(digests) != len(vectors):
            raise ValueError(f"{len(digests)} digests for {len(vectors)} vectors")
        added = 0
        for start in range(0, len(digests), BATCH):
            names = [keys.embedding(tag, d) for d in digests[start : start + BATCH]]
            blobs = vectors[start : start + BATCH]
            args = [int(time.time()), self.ttl, self.max_entries, *blobs]
            added += int(self._put(keys=[keys.EMBEDDING_INDEX, *names], args=args)[0])
        return added

    def stats(self) -> CacheStats:
        """Return the live entries and their bytes (expired ones are no longer counted)."""
        entries = int(self.raw.zcount(keys.EMBEDDING_INDEX, f"({int(time.time())}", "+inf"))
        return CacheStats(entries, entries * 2 * self.dim)
