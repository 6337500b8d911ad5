"""How far to trust a comparison: classification truth, bootstrap intervals, McNemar, a verdict."""

import numpy as np

from tuneloop.report import bootstrap, significance
from tuneloop.report.calibration import reliability
from tuneloop.report.classification import classification
from tuneloop.report.outcomes import Outcomes, paired
from tuneloop.report_metrics import HEADLINE
from tuneloop.stages import compare as cmp

BOOTSTRAP_METHOD = (
    "paired percentile bootstrap: case indices drawn with replacement from a numpy Generator "
    "seeded with the job's seed; both agents are scored on the same draws"
)


def additions(
    baseline_metrics: dict,
    fine_tuned_metrics: dict,
    improvement: dict,
    baseline: Outcomes,
    fine_tuned: Outcomes,
    seed: int,
    resamples: int = cmp.RESAMPLES,
) -> dict:
    """Return metric sets and improvement with 95% intervals, classification, significance, ECE."""
    base, tuned = paired(baseline, fine_tuned)
    truth = {
        "baseline": classification(base.labels, base.expected, base.predicted),
        "fine_tuned": classification(tuned.labels, tuned.expected, tuned.predicted),
    }
    draws = bootstrap.paired_bootstrap(base, tuned, seed, resamples)
    changes = {
        **improvement,
        "macro_f1": cmp.change(truth["baseline"]["macro_f1"], truth["fine_tuned"]["macro_f1"]),
    }
    changes = {
        name: {
            **entry,
            **_change_intervals(draws["baseline"][name], draws["fine_tuned"][name]),
        }
        for name, entry in changes.items()
    }
    return {
        "baseline_metrics": _with_intervals(baseline_metrics, truth["baseline"], draws["baseline"]),
        "fine_tuned_metrics": _with_intervals(
            fine_tuned_metrics, truth["fine_tuned"], draws["fine_tuned"]
        ),
        "improvement": changes,
        "classification": truth,
        "significance": _significance(base, tuned, changes["task_accuracy"], seed, resamples),
        "calibration": {
            "baseline": reliability(base.confidence, base.correct),
            "fine_tuned": reliability(tuned.confidence, tuned.correct),
        },
    }


def _significance(
    base: Outcomes, tuned: Outcomes, accuracy: dict, seed: int, resamples: int
) -> dict:
    """Return the bootstrap's settings, McNemar's test and the verdict on task accuracy."""
    test = significance.mcnemar(base.correct, tuned.correct)
    n_cases = len(base.expected)
    conclusive, verdict = significance.verdict(
        n_cases, accuracy["absolute"], accuracy["absolute_ci95"], test["p_value"]
    )
    return {
        "n_cases": n_cases,
        "bootstrap": {
            "resamples": resamples,
            "seed": seed,
            "confidence_level": cmp.CONFIDENCE_LEVEL,
            "method": BOOTSTRAP_METHOD,
        },
        "mcnemar": test,
        "conclusive": conclusive,
        "verdict": verdict,
    }


def _with_intervals(values: dict, truth: dict, draws: bootstrap.Draws) -> dict:
    """Return a metric set with macro-F1 and the 95% interval of each headline metric."""
    ci95 = {name: bootstrap.interval(draws[name]) for name in HEADLINE}
    return {**values, "macro_f1": truth["macro_f1"], "ci95": ci95}


def _change_intervals(before: np.ndarray | None, after: np.ndarray | None) -> dict:
    """Return the 95% intervals of a change: absolute, and relative to the baseline."""
    if before is None or after is None:  # the metric is undefined on these cases
        return {"absolute_ci95": None, "relative_ci95": None}
    diff = after - before
    # A resample's baseline is 0 only when every case scores 0, i.e. the point value is 0 too.
    relative = np.divide(diff, before, out=np.full(diff.shape, np.nan), where=before != 0)
    return {
        "absolute_ci95": bootstrap.interval(diff),
        "relative_ci95": bootstrap.interval(relative),
    }
