"""The encoder kind's inputs: hashed n-grams (tuneloop.agent.features) beside the embedding.

A row is the n-gram row (L2 norm 1) followed by the text's embedding (L2 norm 1) times
EMBEDDING_WEIGHT, in one sparse row, so the softmax router and its trainer take it as they
take n-gram rows alone.
"""

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from tuneloop.agent.features import N_FEATURES, FeatureBank, featurize
from tuneloop.encoder.spec import DIM

N_INPUTS = N_FEATURES + DIM
EMBEDDING_WEIGHT = np.float32(3.0)  # how much the embedding counts beside the n-grams


def combine(ngrams: sp.csr_matrix, vectors: np.ndarray) -> sp.csr_matrix:
    """Return n-gram rows with their embeddings appended as dense columns."""
    dense = sp.csr_matrix(np.asarray(vectors, dtype=np.float32) * EMBEDDING_WEIGHT)
    return sp.hstack([ngrams, dense], format="csr", dtype=np.float32)


def encoded_features(texts: Sequence[str], vectors: np.ndarray) -> sp.csr_matrix:
    """Return the router's input rows for texts whose embeddings are vectors."""
    return combine(featurize(list(texts)), vectors)


class EncodedBank(FeatureBank):
    """A FeatureBank that also keeps each row's embedding (float16) and gives combined rows."""

    n_features = N_INPUTS

    def __init__(self) -> None:
        super().__init__()
        self._vectors: list[np.ndarray] = []
        self.vectors = np.zeros((0, DIM), dtype=np.float16)

    def add_encoded(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Featurize texts and append their rows with their embeddings."""
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts for {len(vectors)} embeddings")
        if texts:
            self.add(texts)
            self._vectors.append(np.asarray(vectors, dtype=np.float16))

    def freeze(self) -> "EncodedBank":
        """Freeze the n-gram rows and join the embeddings; return self."""
        super().freeze()
        if self._vectors:
            self.vectors = np.concatenate([self.vectors, *self._vectors])
            self._vectors = []
        return self

    @property
    def nbytes(self) -> int:
        """Return the bytes the frozen arrays hold."""
        return super().nbytes + self.vectors.nbytes

    def rows(self, index: np.ndarray) -> sp.csr_matrix:
        """Return the combined rows at index (in that order)."""
        return combine(super().rows(index), self.vectors[index].astype(np.float32))
