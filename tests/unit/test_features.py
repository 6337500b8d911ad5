"""Text features: featurize at inference and the compact FeatureBank used for training."""

import random

import numpy as np
import pytest
import scipy.sparse as sp

from tuneloop.agent.features import (
    _CHAR,
    _WORD,
    MAX_COUNT,
    N_FEATURES,
    FeatureBank,
    featurize,
)

WORDS = ["refund", "invoice", "oven", "garlic", "flight", "hotel", "squat", "cardio", "rain"]
WORDS += ["snow", "the", "a", "my", "please"]
# A word repeated 2000 times and a run of 2000 letters: both give n-gram counts far over 255.
LONG = ["a" * 2000, " ".join(["refund"] * 2000)]


def generated_texts(seed: int, n: int) -> list[str]:
    """Return random short texts, with some empty, blank, odd-cased and non-ASCII ones."""
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        words = rng.choices(WORDS, k=rng.randint(1, 12))
        if i % 7 == 0:
            words = [w.upper() for w in words] + ["café", "naïve"]
        texts.append(" ".join(words))
    return [*texts, "", "   ", "x", *LONG]


def bank_of(texts: list[str], seed: int = 0) -> FeatureBank:
    """Return a frozen bank holding texts, added in batches of random sizes (some empty)."""
    rng = random.Random(seed)
    bank, start = FeatureBank(), 0
    while start < len(texts):
        size = rng.randint(0, 9)
        bank.add(texts[start : start + size])
        start += size
    return bank.freeze()


def assert_bit_identical(actual: sp.csr_matrix, expected: sp.csr_matrix) -> None:
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype == np.float32
    assert np.array_equal(actual.indptr, expected.indptr)
    assert np.array_equal(actual.indices, expected.indices)
    assert actual.data.tobytes() == expected.data.tobytes()


def raw_counts(texts: list[str]) -> sp.csr_matrix:
    """Return the uncapped hashed n-gram counts of texts, columns sorted."""
    counts = sp.hstack([_WORD.transform(texts), _CHAR.transform(texts)], format="csr")
    counts.sort_indices()
    return counts


TEXTS = generated_texts(seed=3, n=120)


@pytest.fixture(scope="module")
def bank() -> FeatureBank:
    return bank_of(TEXTS)


def test_featurize_gives_one_float32_row_per_text_over_all_features():
    features = featurize(TEXTS)
    assert isinstance(features, sp.csr_matrix)
    assert features.shape == (len(TEXTS), N_FEATURES)
    assert features.dtype == np.float32
    assert features.has_sorted_indices


def test_every_non_empty_row_has_unit_l2_norm():
    features = featurize(TEXTS)
    norms = np.sqrt(np.asarray(features.multiply(features).sum(axis=1)).ravel())
    non_empty = np.diff(features.indptr) > 0
    np.testing.assert_allclose(norms[non_empty], 1.0, rtol=1e-5)


def test_a_text_gives_the_same_row_whatever_else_is_in_the_batch():
    alone = featurize(["Where is my refund?"])
    assert_bit_identical(featurize(["snow", "Where is my refund?", ""])[1], alone)


def test_bank_holds_every_added_text_in_order(bank):
    assert len(bank) == len(TEXTS)
    assert_bit_identical(bank.span(0, len(TEXTS)), featurize(TEXTS))


@pytest.mark.parametrize("seed", range(4))
def test_bank_rows_are_bit_identical_to_featurize_in_any_index_order(bank, seed):
    rng = np.random.default_rng(seed)
    index = rng.permutation(len(TEXTS))[: 40 + 10 * seed]
    index = np.concatenate([index, index[:5]])  # repeated rows too
    assert_bit_identical(bank.rows(index), featurize([TEXTS[i] for i in index]))


def test_bank_rows_of_no_index_is_an_empty_matrix(bank):
    rows = bank.rows(np.zeros(0, dtype=np.int64))
    assert rows.shape == (0, N_FEATURES)
    assert rows.nnz == 0


def test_span_clamps_its_stop_to_the_bank_length(bank):
    n = len(TEXTS)
    assert_bit_identical(bank.span(n - 3, n + 50), featurize(TEXTS[n - 3 :]))


def test_counts_over_255_are_capped_identically_in_featurize_and_the_bank():
    raw = raw_counts(LONG)
    assert raw.data.max() > 1000  # the texts do overflow a byte
    capped = np.minimum(raw.data, MAX_COUNT)
    bank = bank_of(LONG)

    assert MAX_COUNT == 255
    assert bank.counts.max() == 255
    assert np.array_equal(bank.counts, capped.astype(np.uint8))
    assert_bit_identical(bank.span(0, 2), featurize(LONG))
    # featurize scales the capped counts, not the raw ones, by the row's inverse norm
    for i in range(len(LONG)):
        counts = capped[raw.indptr[i] : raw.indptr[i + 1]].astype(np.float64)
        row = featurize([LONG[i]])
        np.testing.assert_allclose(row.data, counts / np.linalg.norm(counts), rtol=1e-6)


def test_empty_text_gives_an_empty_row_with_a_zero_inverse_norm():
    texts = ["", "   ", "refund"]
    features = featurize(texts)
    assert list(np.diff(features.indptr)) == [0, 0, features.nnz]
    assert np.all(np.isfinite(features.data))
    bank = bank_of(texts)
    assert list(bank.inverse[:2]) == [0.0, 0.0]
    assert_bit_identical(bank.span(0, 3), features)


def test_bank_stores_three_bytes_per_non_zero_plus_per_row_arrays(bank):
    nnz = featurize(TEXTS).nnz
    n = len(TEXTS)
    assert bank.cols.dtype == np.uint16 and bank.counts.dtype == np.uint8
    assert bank.cols.size == bank.counts.size == nnz
    assert bank.nbytes == 3 * nnz + 8 * (n + 1) + 4 * n
    assert N_FEATURES <= 2**16  # every column fits in a uint16


def test_an_unfrozen_bank_holds_nothing_yet():
    bank = FeatureBank()
    bank.add(["refund please"])
    assert len(bank) == 0
    assert bank.nbytes == 8  # just the leading indptr entry
    assert len(bank.freeze()) == 1


def test_adding_after_freeze_appends_to_the_frozen_rows():
    bank = bank_of(TEXTS[:10])
    bank.add(TEXTS[10:25])
    bank.add([])
    bank.freeze().freeze()  # freezing twice changes nothing
    assert len(bank) == 25
    assert_bit_identical(bank.span(0, 25), featurize(TEXTS[:25]))
