"""Stateless text features: hashed word and character n-grams, L2-normalised, float32.

Counts are capped at 255 and scaled by the row's inverse norm in float32, so a row kept in
the compact training form (:class:`FeatureBank`) expands to exactly the values that
:func:`featurize` gives at inference.
"""

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

WORD_FEATURES = 2**15
CHAR_FEATURES = 2**15
N_FEATURES = WORD_FEATURES + CHAR_FEATURES
MAX_COUNT = 255

_WORD = HashingVectorizer(
    n_features=WORD_FEATURES,
    ngram_range=(1, 2),
    alternate_sign=False,
    norm=None,
    dtype=np.float32,
)
_CHAR = HashingVectorizer(
    n_features=CHAR_FEATURES,
    analyzer="char_wb",
    ngram_range=(3, 5),
    alternate_sign=False,
    norm=None,
    dtype=np.float32,
)


def _counts(texts: Sequence[str]) -> sp.csr_matrix:
    """Return capped hashed n-gram counts, one row per text, columns sorted."""
    counts = sp.hstack([_WORD.transform(texts), _CHAR.transform(texts)], format="csr")
    counts.sort_indices()
    np.minimum(counts.data, MAX_COUNT, out=counts.data)
    return counts


def _inverse_norms(counts: sp.csr_matrix) -> np.ndarray:
    """Return 1 / L2 norm of each row in float32 (0 for an empty row)."""
    norms = np.sqrt(np.asarray(counts.power(2).sum(axis=1), dtype=np.float32).ravel())
    out = np.zeros_like(norms)
    np.divide(np.float32(1.0), norms, out=out, where=norms > 0)
    return out


def _scaled(counts: np.ndarray, indptr: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """Return counts times their row's inverse norm, in float32."""
    return counts.astype(np.float32) * np.repeat(inverse, np.diff(indptr))


def featurize(texts: Sequence[str]) -> sp.csr_matrix:
    """Turn texts into one sparse float32 row each; the same text always gives the same row."""
    if not texts:
        return sp.csr_matrix((0, N_FEATURES), dtype=np.float32)
    counts = _counts(list(texts))
    data = _scaled(counts.data, counts.indptr, _inverse_norms(counts))
    return sp.csr_matrix((data, counts.indices, counts.indptr), shape=counts.shape)


class FeatureBank:
    """Rows of features kept compactly (3 bytes per non-zero), appended batch by batch."""

    def __init__(self) -> None:
        self._cols: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []
        self._inverse: list[np.ndarray] = []
        self.cols = np.zeros(0, dtype=np.uint16)
        self.counts = np.zeros(0, dtype=np.uint8)
        self.indptr = np.zeros(1, dtype=np.int64)
        self.inverse = np.zeros(0, dtype=np.float32)

    def add(self, texts: Sequence[str]) -> None:
        """Featurize texts and append their rows."""
        if not texts:
            return
        counts = _counts(list(texts))
        self._cols.append(counts.indices.astype(np.uint16))
        self._counts.append(counts.data.astype(np.uint8))
        self._lengths.append(np.diff(counts.indptr))
        self._inverse.append(_inverse_norms(counts))

    def freeze(self) -> "FeatureBank":
        """Join the appended batches into flat arrays; return self."""
        if self._cols:
            self.cols = np.concatenate([self.cols, *self._cols])
            self.counts = np.concatenate([self.counts, *self._counts])
            lengths = np.concatenate(self._lengths)
            self.indptr = np.concatenate([self.indptr, self.indptr[-1] + np.cumsum(lengths)])
            self.inverse = np.concatenate([self.inverse, *self._inverse])
            self._cols, self._counts, self._lengths, self._inverse = [], [], [], []
        return self

    def __len__(self) -> int:
        return len(self.inverse)

    @property
    def nbytes(self) -> int:
        """Return the bytes the frozen arrays hold."""
        return sum(a.nbytes for a in (self.cols, self.counts, self.indptr, self.inverse))

    def rows(self, index: np.ndarray) -> sp.csr_matrix:
        """Return the float32 feature rows at index (in that order), as featurize gives them."""
        starts, ends = self.indptr[index], self.indptr[index + 1]
        lengths = ends - starts
        indptr = np.zeros(len(index) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        # positions of every non-zero of the chosen rows, without a Python loop
        offsets = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        data = _scaled(self.counts[offsets], indptr, self.inverse[index])
        cols = self.cols[offsets].astype(np.int32)
        return sp.csr_matrix((data, cols, indptr), shape=(len(index), N_FEATURES))

    def span(self, start: int, stop: int) -> sp.csr_matrix:
        """Return the rows start..stop-1."""
        return self.rows(np.arange(start, min(stop, len(self)), dtype=np.int64))
