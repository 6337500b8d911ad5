"""Texts to embeddings through the cache: a text is keyed and encoded in its normalised form."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tuneloop.encoder import model
from tuneloop.encoder.spec import DIM, TAG
from tuneloop.store.embeddings import EmbeddingCache
from tuneloop.text import normalize

_cache: EmbeddingCache | None = None  # the process's cache (set by the worker at start-up)


def set_cache(cache: EmbeddingCache | None) -> None:
    """Make agents in this process read and fill cache (None: encode every text)."""
    global _cache
    _cache = cache


def digest(text: str) -> str:
    """Return the cache digest of a text: of its normalised form."""
    return hashlib.blake2b(normalize(text).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class Embedded:
    """Embeddings of texts in their order, and how many distinct texts had to be encoded."""

    vectors: np.ndarray  # (n, DIM) float32, each row L2-normalised (float16-rounded if cached)
    encoded: int


def embed(texts: Sequence[str], cache: EmbeddingCache | None = None) -> Embedded:
    """Return each text's embedding: from the cache when there, else encoded and cached.

    Every vector goes through float16, cached or not, so a text gets the same vector
    whether it was cached or encoded right now.
    """
    cache = cache if cache is not None else _cache
    digests = [digest(t) for t in texts]
    first: dict[str, int] = {}
    for i, d in enumerate(digests):
        first.setdefault(d, i)
    unique = list(first)
    found = cache.get_many(TAG, unique) if cache is not None else [None] * len(unique)
    vectors = {
        d: np.frombuffer(v, dtype=np.float16) for d, v in zip(unique, found, strict=True) if v
    }
    todo = [d for d in unique if d not in vectors]
    if todo:
        fresh = model.encode([normalize(texts[first[d]]) for d in todo]).astype(np.float16)
        if cache is not None:
            cache.put_many(TAG, todo, [row.tobytes() for row in fresh])
        vectors.update(zip(todo, fresh, strict=True))
    out = np.empty((len(texts), DIM), dtype=np.float32)
    for i, d in enumerate(digests):
        out[i] = vectors[d]
    return Embedded(out, len(todo))
