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
CHUNK_NNZ = 2_000_000  # non-zeros per consolidated chunk of a FeatureBank (about 6 MB)

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

    n_features = N_FEATURES  # the width of the rows it gives

    def __init__(self) -> None:
        self._pending: list[tuple[np.ndarray, ...]] = []  # small per-batch arrays
        self._pending_nnz = 0
        self._chunks: list[tuple[np.ndarray, ...]] = []  # consolidated, a few MB each
        self.cols = np.zeros(0, dtype=np.uint16)
        self.counts = np.zeros(0, dtype=np.uint8)
        self.indptr = np.zeros(1, dtype=np.int64)
        self.inverse = np.zeros(0, dtype=np.float32)

    def add(self, texts: Sequence[str]) -> None:
        """Featurize texts and append their rows."""
        if not texts:
            return
        counts = _counts(list(texts))
        self._pending.append(
            (
                counts.indices.astype(np.uint16),
                counts.data.astype(np.uint8),
                np.diff(counts.indptr),
                _inverse_norms(counts),
            )
        )
        self._pending_nnz += counts.nnz
        if self._pending_nnz >= CHUNK_NNZ:
            self._consolidate()

    def _consolidate(self) -> None:
        """Join the pending batches into one chunk, so their small arrays are reused."""
        if self._pending:
            self._chunks.append(
                tuple(np.concatenate(part) for part in zip(*self._pending, strict=True))
            )
            self._pending, self._pending_nnz = [], 0

    def freeze(self) -> "FeatureBank":
        """Copy every chunk into flat arrays, freeing each chunk once copied; return self."""
        self._consolidate()
        if not self._chunks:
            return self
        chunks = [(self.cols, self.counts, np.diff(self.indptr), self.inverse), *self._chunks]
        self._chunks = []
        nnz, rows = sum(len(c[0]) for c in chunks), sum(len(c[3]) for c in chunks)
        cols, counts = np.empty(nnz, np.uint16), np.empty(nnz, np.uint8)
        lengths, inverse = np.empty(rows, np.int64), np.empty(rows, np.float32)
        at_nnz = at_row = 0
        while chunks:  # peak memory: the flat arrays plus one chunk, not twice the data
            c_cols, c_counts, c_lengths, c_inverse = chunks.pop(0)
            nnz_end, row_end = at_nnz + len(c_cols), at_row + len(c_inverse)
            cols[at_nnz:nnz_end], counts[at_nnz:nnz_end] = c_cols, c_counts
            lengths[at_row:row_end], inverse[at_row:row_end] = c_lengths, c_inverse
            at_nnz, at_row = nnz_end, row_end
        self.cols, self.counts, self.inverse = cols, counts, inverse
        self.indptr = np.zeros(rows + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.indptr[1:])
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
