"""Intervals of the change between two jobs' metrics, numpy-free (the gateway imports it).

Paired: a bootstrap over the shared evaluation cases, as the report's own bootstrap draws
case indices with replacement, with a fixed seed. Unpaired: each job's own 95% interval
combined (MOVER), for metrics without per-case values or jobs evaluated on other cases.
"""

import math
import random

from tuneloop.stages.compare import CONFIDENCE_LEVEL, RESAMPLES

SEED = 0  # the paired bootstrap's seed: the same two jobs always get the same interval
PAIRED = "paired_bootstrap"
UNPAIRED = "unpaired"
METHODS = {
    PAIRED: (
        f"paired percentile bootstrap over the shared evaluation cases: {RESAMPLES} resamples "
        f"of the case indices with replacement (random.Random seeded with {SEED}); each "
        "resample's change is B's accuracy minus A's on the same draws"
    ),
    UNPAIRED: (
        "each job's own 95% interval combined by the MOVER method (Newcombe), which "
        "treats the two estimates as independent; no per-case pairing was used"
    ),
}


def percentile(ordered: list[float], q: float) -> float:
    """Return the q-th percentile of sorted values, interpolated linearly (numpy's default)."""
    position = q / 100 * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percentile_interval(values: list[float], level: float = CONFIDENCE_LEVEL) -> list[float]:
    """Return the percentile interval [low, high] of the values."""
    tail = round((1 - level) * 50, 9)
    ordered = sorted(values)
    return [percentile(ordered, tail), percentile(ordered, 100 - tail)]


def binomial(rng: random.Random, n: int, p: float) -> int:
    """Draw Binomial(n, p) by skipping geometric gaps between successes (about n*p steps)."""
    if p <= 0 or n <= 0:
        return 0
    if p >= 1:
        return n
    if p > 0.5:
        return n - binomial(rng, n, 1 - p)
    log_q, count, trial = math.log1p(-p), 0, 0
    while True:
        trial += int(math.log(1.0 - rng.random()) / log_q) + 1
        if trial > n:
            return count
        count += 1


def paired_interval(
    n: int, b_only: int, a_only: int, resamples: int = RESAMPLES, seed: int = SEED
) -> list[float]:
    """Return the bootstrap interval of B's accuracy minus A's over n paired cases.

    b_only cases only B got right (+1 each), a_only only A (-1 each), the rest 0. Drawing n
    case indices with replacement lands a Binomial(n, changed/n) number on changed cases, and
    each of those is a +1 with probability b_only/changed: the same distribution as drawing
    the indices one by one, in time proportional to the changed cases.
    """
    rng, changed = random.Random(seed), b_only + a_only
    deltas = []
    for _ in range(resamples):
        drawn = binomial(rng, n, changed / n)
        plus = binomial(rng, drawn, b_only / changed) if changed else 0
        deltas.append((2 * plus - drawn) / n)
    return percentile_interval(deltas)


def unpaired_interval(
    a: float | None, a_ci: list | None, b: float | None, b_ci: list | None
) -> list[float] | None:
    """Return the 95% interval of b - a from each one's own interval (MOVER), or None."""
    if a is None or b is None or not a_ci or not b_ci or None in (*a_ci, *b_ci):
        return None
    delta = b - a
    low = delta - math.hypot(b - b_ci[0], a_ci[1] - a)
    high = delta + math.hypot(b_ci[1] - b, a - a_ci[0])
    return [low, high]
