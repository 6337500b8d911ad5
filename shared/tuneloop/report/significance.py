"""Can the report tell the agents apart? McNemar's exact test and a plain verdict."""

import numpy as np
from scipy.stats import binomtest

from tuneloop.report.format import p_value as p_text
from tuneloop.stages.compare import ALPHA, MIN_CASES


def mcnemar(baseline_correct: np.ndarray, fine_tuned_correct: np.ndarray) -> dict:
    """Return the paired 2x2 table of correctness and McNemar's exact two-sided p-value."""
    base, tuned = baseline_correct.astype(bool), fine_tuned_correct.astype(bool)
    only_base, only_tuned = int(np.sum(base & ~tuned)), int(np.sum(~base & tuned))
    discordant = only_base + only_tuned
    # Exact McNemar: with no real difference each discordant case is equally likely to favour
    # either agent, so only_tuned ~ Binomial(discordant, 1/2); a two-sided exact binomial test.
    p_value = binomtest(only_tuned, discordant, 0.5).pvalue if discordant else 1.0
    return {
        "both_correct": int(np.sum(base & tuned)),
        "baseline_only_correct": only_base,
        "fine_tuned_only_correct": only_tuned,
        "both_wrong": int(np.sum(~base & ~tuned)),
        "p_value": float(p_value),
        "test": "exact (two-sided binomial test on the discordant cases)",
    }


def verdict(n_cases: int, change: float, ci: list[float], p_value: float) -> tuple[bool, str]:
    """Return whether the task-accuracy change is established, and a sentence that says so."""
    numbers = (
        f"task accuracy {change:+.3f} (95% CI {ci[0]:+.3f} to {ci[1]:+.3f}; "
        f"McNemar {p_text(p_value)}) over {n_cases:,} cases"
    )
    if n_cases < MIN_CASES:
        return False, (
            f"Cannot tell: {n_cases} evaluation cases are too few to compare the agents "
            f"(at least {MIN_CASES} are needed); {numbers}."
        )
    if ci[0] <= 0 <= ci[1] or p_value >= ALPHA:
        return False, f"Cannot tell: the change could be chance; {numbers}."
    better = "more" if ci[0] > 0 else "less"
    return True, f"The fine-tuned agent is {better} accurate than the baseline: {numbers}."
