"""Paired bootstrap over the evaluation cases: every metric of both agents per resample."""

import numpy as np
import scipy.sparse as sp

from tuneloop.report.outcomes import Outcomes
from tuneloop.stages.compare import CONFIDENCE_LEVEL, RESAMPLES

# Case indices drawn at once: bounds memory (about 40 bytes each, 10 MB) whatever the case
# count; blocks this size also run faster than bigger ones (they stay in cache).
CELLS_PER_DRAW = 250_000

Draws = dict[str, np.ndarray | None]


def draw_counts(rng: np.random.Generator, n: int, rows: int) -> np.ndarray:
    """Return how often each of n cases is drawn in each of rows resamples of n indices."""
    idx = rng.integers(0, n, size=(rows, n)) + (np.arange(rows) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def macro_f1_rows(
    counts: np.ndarray, expected: np.ndarray, predicted: np.ndarray, n_labels: int
) -> np.ndarray:
    """Return the macro-F1 of each resample (a row of draw counts) over the types it expects.

    Per type, F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (support + times predicted): sklearn's
    f1_score with zero_division=0. All resamples at once: each count per type is the draw
    counts times a sparse case-by-type indicator (sums of whole numbers, so exact).
    """
    n = len(expected)
    cases = np.arange(n)
    hit = (expected == predicted).astype(np.float64)

    def per_type(types: np.ndarray, weights: np.ndarray) -> np.ndarray:
        indicator = sp.csr_matrix((weights, (cases, types)), shape=(n, n_labels))
        return np.asarray((indicator.T @ counts.T).T)

    support = per_type(expected, np.ones(n))
    guessed = per_type(predicted, np.ones(n))
    hits = per_type(expected, hit)
    present = support > 0
    denominator = np.where(present, support + guessed, 1.0)
    f1 = np.where(present, 2 * hits / denominator, 0.0)
    return f1.sum(axis=1) / present.sum(axis=1)


def case_columns(o: Outcomes) -> np.ndarray:
    """Return what the metrics sum per case: correct, confidence, quality, chrF, scored."""
    scored = ~np.isnan(o.quality)
    quality, chrf = np.where(scored, o.quality, 0.0), np.where(scored, o.chrf, 0.0)
    return np.column_stack([o.correct, o.confidence, quality, chrf, scored]).astype(np.float64)


def resampled_metrics(counts: np.ndarray, o: Outcomes, columns: np.ndarray) -> Draws:
    """Return each metric of one agent on each resample (None: not defined for these cases)."""
    n = counts.shape[1]
    correct, confidence, quality, chrf, scored = (counts @ columns).T
    accuracy = correct / n
    out: Draws = {
        "task_accuracy": accuracy,
        "macro_f1": macro_f1_rows(counts, o.expected, o.predicted, len(o.labels)),
        "average_confidence": confidence / n,
        "response_quality": None,
        "response_chrf": None,
        "overall_score": accuracy,
    }
    if columns[:, 4].any():  # as evaluate does: scores over the cases with a reference
        mean = _mean_over(quality, scored)
        out["response_quality"] = mean
        out["response_chrf"] = _mean_over(chrf, scored)
        out["overall_score"] = np.where(np.isnan(mean), accuracy, (accuracy + mean) / 2)
    return out


def _mean_over(total: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """Return total / scored per resample; NaN where a resample drew no scored case."""
    return np.divide(total, scored, out=np.full(len(total), np.nan), where=scored > 0)


def paired_bootstrap(
    baseline: Outcomes, fine_tuned: Outcomes, seed: int, resamples: int = RESAMPLES
) -> dict[str, Draws]:
    """Return both agents' metrics on the same seeded resamples of the case indices."""
    rng = np.random.default_rng(seed)
    n = len(baseline.expected)
    agents = {"baseline": baseline, "fine_tuned": fine_tuned}
    columns = {name: case_columns(o) for name, o in agents.items()}
    step = max(1, CELLS_PER_DRAW // n)
    parts: dict[str, list[Draws]] = {name: [] for name in agents}
    for start in range(0, resamples, step):
        counts = draw_counts(rng, n, min(step, resamples - start))
        for name, o in agents.items():
            parts[name].append(resampled_metrics(counts, o, columns[name]))
    return {name: _joined(blocks) for name, blocks in parts.items()}


def _joined(blocks: list[Draws]) -> Draws:
    """Concatenate the per-block draws of each metric."""
    return {
        name: None if blocks[0][name] is None else np.concatenate([b[name] for b in blocks])
        for name in blocks[0]
    }


def interval(values: np.ndarray | None, level: float = CONFIDENCE_LEVEL) -> list[float] | None:
    """Return the percentile interval [low, high] of the finite values, or None if none."""
    if values is None:
        return None
    finite = values[np.isfinite(values)]
    if not finite.size:
        return None
    tail = round((1 - level) * 50, 9)  # 2.5 for 0.95, not 2.5000000000000027
    low, high = np.percentile(finite, [tail, 100 - tail])
    return [float(low), float(high)]
