"""The embedding cache: one float16 vector per normalised text and encoder, with a TTL, counted.

Every entry is its own key (set with the TTL) and is listed in an index scored by its expiry,
so the cache knows how many entries (and bytes) it holds without scanning, and a cap drops
the entries expiring soonest. Reads never extend an entry's life: a job's own rows are read
within minutes of being encoded, and a text seen again after the TTL is simply encoded again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis import Redis

from tuneloop.store import keys, scripts

if TYPE_CHECKING:  # numpy is the worker's: the gateway (no numpy) imports the store too
    import numpy as np

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

    def get_many(self, tag: str, digests: list[str]) -> list[np.ndarray | None]:
        """Return the float16 vector of each digest under tag, or None where none is cached."""
        import numpy as np

        out: list[np.ndarray | None] = []
        for start in range(0, len(digests), BATCH):
            names = [keys.embedding(tag, d) for d in digests[start : start + BATCH]]
            for value in self.raw.mget(names) if names else []:
                ok = value is not None and len(value) == 2 * self.dim
                out.append(np.frombuffer(value, dtype=np.float16) if ok else None)
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

    def put_many(self, tag: str, digests: list[str], vectors: np.ndarray) -> int:
        """Cache vectors (rows, as float16) under their digests; return how many were new."""
        import numpy as np

        if len(digests) != len(vectors):
            raise ValueError(f"{len(digests)} digests for {len(vectors)} vectors")
        values = np.ascontiguousarray(vectors, dtype=np.float16)
        added = 0
        for start in range(0, len(digests), BATCH):
            part = digests[start : start + BATCH]
            names = [keys.embedding(tag, d) for d in part]
            blobs = [values[start + i].tobytes() for i in range(len(part))]
            args = [int(time.time()), self.ttl, self.max_entries, *blobs]
            added += int(self._put(keys=[keys.EMBEDDING_INDEX, *names], args=args)[0])
        return added

    def stats(self) -> CacheStats:
        """Return the live entries and their bytes (expired ones are no longer counted)."""
        entries = int(self.raw.zcount(keys.EMBEDDING_INDEX, f"({int(time.time())}", "+inf"))
        return CacheStats(entries, entries * 2 * self.dim)
