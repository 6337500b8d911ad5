"""Stateless text features: hashed word and character n-grams, L2-normalised."""

from collections.abc import Sequence

import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

WORD_FEATURES = 2**15
CHAR_FEATURES = 2**15
N_FEATURES = WORD_FEATURES + CHAR_FEATURES

_WORD = HashingVectorizer(
    n_features=WORD_FEATURES, ngram_range=(1, 2), alternate_sign=False, norm=None
)
_CHAR = HashingVectorizer(
    n_features=CHAR_FEATURES,
    analyzer="char_wb",
    ngram_range=(3, 5),
    alternate_sign=False,
    norm=None,
)


def featurize(texts: Sequence[str]) -> sp.csr_matrix:
    """Turn texts into one sparse row each; the same text always gives the same row."""
    stacked = sp.hstack([_WORD.transform(texts), _CHAR.transform(texts)], format="csr")
    return normalize(stacked, norm="l2", copy=False)
