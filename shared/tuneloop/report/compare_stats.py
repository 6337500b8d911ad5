"""Intervals of the change between two jobs' metrics, numpy-free (the gateway imports it).

Paired: a bootstrap over the shared evaluation cases, as the report's own bootstrap draws
case indices with replacement, with a fixed seed. Unpaired: each job's own 95% interval
combined (MOVER), for metrics without per-case values or jobs evaluated on other cases.
"""

import math
import random

from tuneloop.stages.compare import CONFIDENCE_LEVEL, RESAMPLES

BTRS_MIN_MEAN = 10  # from this mean on, binomial() draws by BTRS (constant time)
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
    """Draw Binomial(n, p) exactly: by geometric gaps for a small mean, else by BTRS."""
    if p <= 0 or n <= 0:
        return 0
    if p >= 1:
        return n
    if p > 0.5:
        return n - binomial(rng, n, 1 - p)
    if n * p >= BTRS_MIN_MEAN:
        return _btrs(rng, n, p)
    log_q, count, trial = math.log1p(-p), 0, 0
    while True:  # the trials up to each success are geometric: about n*p steps
        trial += int(math.log(1.0 - rng.random()) / log_q) + 1
        if trial > n:
            return count
        count += 1


def _btrs(rng: random.Random, n: int, p: float) -> int:
    """Draw Binomial(n, p), p <= 0.5, n*p >= 10, in constant time.

    Hormann's transformed rejection with squeeze (BTRS, 1993), as TensorFlow and JAX draw it.
    """
    spq = math.sqrt(n * p * (1 - p))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = math.log(p / (1 - p))
    m = math.floor((n + 1) * p)
    h = math.lgamma(m + 1) + math.lgamma(n - m + 1)
    while True:
        u, v = rng.random() - 0.5, rng.random()
        us = 0.5 - abs(u)
        k = math.floor((2 * a / us + b) * u + c) if us > 0 else -1
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        v = math.log(v * alpha / (a / (us * us) + b)) if v > 0 else -math.inf
        if v <= h - math.lgamma(k + 1) - math.lgamma(n - k + 1) + (k - m) * lpq:
            return k


def paired_interval(
    n: int, b_only: int, a_only: int, resamples: int = RESAMPLES, seed: int = SEED
) -> list[float]:
    """Return the bootstrap interval of B's accuracy minus A's over n paired cases.

    b_only cases only B got right (+1 each), a_only only A (-1 each), the rest 0. Drawing n
    case indices with replacement lands a Binomial(n, changed/n) number on changed cases, and
    each of those is a +1 with probability b_only/changed: the same distribution as drawing
    the indices one by one, in constant time per resample.
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
