"""Whether the live model's own ratings fall below the previous model's: a Welch interval."""

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from scipy import stats


@dataclass(frozen=True)
class Judgement:
    """The live model's mean rating against the previous one's, with the interval of the gap."""

    roll_back: bool
    live_mean: float
    previous_mean: float
    difference: float  # live minus previous
    low: float  # the difference's interval at confidence
    high: float
    confidence: float
    margin: float
    live_ratings: int
    previous_ratings: int
    reason: str

    def as_dict(self) -> dict:
        """The judgement as JSON-ready data (floats rounded to 6 places)."""
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}


def judge(live: Sequence[float], previous: Sequence[float], rule: dict) -> Judgement | None:
    """Judge the live model's last `window` ratings against the previous model's last
    `window`; None until both have that many.

    It rolls back when the live mean is below the previous mean by more than `margin`
    with the whole interval of the difference (Welch's t, at `confidence`) past it: the
    interval's upper end is below -margin, so it excludes the margin and 0.
    """
    window, margin, confidence = rule["window"], rule["margin"], rule["confidence"]
    if len(live) < window or len(previous) < window:
        return None
    a, b = list(live[:window]), list(previous[:window])
    mean_a, mean_b = statistics.fmean(a), statistics.fmean(b)
    difference = mean_a - mean_b
    low, high = _welch_interval(a, b, confidence)
    roll_back = high < -margin
    verb = "is below" if roll_back else "is not shown below"
    reason = (
        f"the live model's mean rating over its last {window} ratings ({mean_a:.3f}) {verb} "
        f"the previous model's ({mean_b:.3f}) by more than {margin:g}: the difference "
        f"{difference:+.3f} has the {confidence:.0%} interval [{low:+.3f}, {high:+.3f}]"
    )
    return Judgement(
        roll_back, mean_a, mean_b, difference, low, high, confidence, margin, len(a), len(b), reason
    )


def _welch_interval(a: list[float], b: list[float], confidence: float) -> tuple[float, float]:
    """The interval of mean(a) - mean(b) at confidence, by Welch's t (unequal variances)."""
    difference = statistics.fmean(a) - statistics.fmean(b)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    if se == 0.0:  # every rating of each model the same: the difference is exact
        return difference, difference
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return difference - half, difference + half
