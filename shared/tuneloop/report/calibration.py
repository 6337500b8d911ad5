"""Calibration: how well an agent's confidence matches how often it routes correctly."""

import numpy as np

BINS = 10


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = BINS) -> dict:
    """Return the expected calibration error and the reliability table over equal-width bins.

    Bin k holds confidences in [k/bins, (k+1)/bins), the last bin also 1.0. Written by hand:
    sklearn's calibration_curve drops empty bins and gives no counts, and the table keeps both.
    """
    if not np.all((confidence >= 0) & (confidence <= 1)):  # NaN too
        raise ValueError("confidences must lie in [0, 1]")
    edges = np.arange(bins + 1) / bins  # k / bins exactly rounded, so 0.3 starts bin 3
    which = np.minimum(np.searchsorted(edges, confidence, side="right") - 1, bins - 1)
    count = np.bincount(which, minlength=bins)
    confidence_sum = np.bincount(which, weights=confidence, minlength=bins)
    hits = np.bincount(which, weights=correct.astype(np.float64), minlength=bins)
    filled = count > 0
    mean_confidence = np.divide(confidence_sum, count, out=np.zeros(bins), where=filled)
    accuracy = np.divide(hits, count, out=np.zeros(bins), where=filled)
    ece = float(np.sum(count * np.abs(accuracy - mean_confidence)) / len(confidence))
    table = [
        {
            "lower": float(edges[k]),
            "upper": float(edges[k + 1]),
            "count": int(count[k]),
            "mean_confidence": float(mean_confidence[k]) if filled[k] else None,
            "accuracy": float(accuracy[k]) if filled[k] else None,
        }
        for k in range(bins)
    ]
    return {"ece": ece, "bins": table}
