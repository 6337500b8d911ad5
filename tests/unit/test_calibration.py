"""Calibration: expected calibration error and the 10-bin reliability table."""

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from tuneloop.report.calibration import reliability

# bin 0: 0.05 (wrong); bin 1: 0.15 twice (one right); bin 3: 0.3 (its lower edge) and 0.35
# (both right); bin 9: 0.9 (its lower edge), 0.95 and 1.0 (the closed upper end), two right.
CONFIDENCE = np.array([0.05, 0.15, 0.15, 0.3, 0.35, 0.95, 1.0, 0.9])
CORRECT = np.array([False, True, False, True, True, True, False, True])


def test_bins_hold_counts_mean_confidence_and_accuracy_with_empty_bins_kept():
    bins = reliability(CONFIDENCE, CORRECT)["bins"]
    assert len(bins) == 10
    assert [b["count"] for b in bins] == [1, 2, 0, 2, 0, 0, 0, 0, 0, 3]
    assert [(b["lower"], b["upper"]) for b in bins[:2]] == [(0.0, 0.1), (0.1, 0.2)]
    assert bins[9]["upper"] == 1.0
    assert bins[1]["mean_confidence"] == pytest.approx(0.15)
    assert bins[1]["accuracy"] == 0.5
    assert bins[3]["mean_confidence"] == pytest.approx(0.325)
    assert bins[3]["accuracy"] == 1.0
    assert bins[9]["mean_confidence"] == pytest.approx(0.95)
    assert bins[9]["accuracy"] == pytest.approx(2 / 3)
    assert bins[2] == {
        "lower": 0.2,
        "upper": 0.3,
        "count": 0,
        "mean_confidence": None,
        "accuracy": None,
    }


def test_ece_is_the_count_weighted_gap_between_accuracy_and_confidence():
    # (1 x 0.05 + 2 x 0.35 + 2 x 0.675 + 3 x |2/3 - 0.95|) / 8 = 2.95 / 8
    assert reliability(CONFIDENCE, CORRECT)["ece"] == pytest.approx(2.95 / 8)


def test_a_perfectly_calibrated_agent_has_zero_ece():
    confidence = np.array([0.25] * 4 + [0.75] * 4)
    correct = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=bool)
    assert reliability(confidence, correct)["ece"] == pytest.approx(0.0)


def test_non_empty_bins_agree_with_sklearns_calibration_curve():
    rng = np.random.default_rng(8)
    confidence = rng.uniform(0, 1, 500)  # no value on a bin edge, where the conventions differ
    correct = rng.uniform(0, 1, 500) < confidence**2
    accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=10)
    filled = [b for b in reliability(confidence, correct)["bins"] if b["count"]]
    assert [b["accuracy"] for b in filled] == pytest.approx(accuracy.tolist())
    assert [b["mean_confidence"] for b in filled] == pytest.approx(mean_confidence.tolist())


def test_a_confidence_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError):
        reliability(np.array([0.5, 1.2]), np.array([True, False]))
    with pytest.raises(ValueError):
        reliability(np.array([np.nan]), np.array([True]))
