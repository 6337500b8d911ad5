"""Axis ticks for the charts: round numbers (1, 2, 5 x 10^k) on a linear or a log scale."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

STEPS = (1.0, 2.0, 5.0, 10.0)  # a linear tick step is one of these x a power of ten
LOG_SPAN = 10.0  # values spanning more than this factor (a decade) get a log scale


def nice_step(span: float, count: int) -> float:
    """Return the round step nearest (by ratio) to cutting span into count intervals."""
    if span <= 0 or count < 1:
        return 1.0
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    return min((s * power for s in STEPS), key=lambda step: abs(math.log(step / raw)))


def linear_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Return round ticks from a multiple of the step at or below low to one at or above high."""
    if high < low:
        low, high = high, low
    if high == low:  # one value: a step around it
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = nice_step(high - low, count)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [_clean(i * step) for i in range(first, last + 1)]


def log_ticks(low: float, high: float) -> list[float]:
    """Return powers of ten around [low, high]; over at most two decades also 2x and 5x."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    mantissas = (1.0, 2.0, 5.0) if math.log10(high / low) <= 2 else (1.0,)
    ticks = [_clean(m * 10.0**e) for e in range(first, last + 1) for m in mantissas]
    below = [t for t in ticks if t <= low][-1:] or [_clean(10.0**first)]
    above = [t for t in ticks if t >= high][:1] or [_clean(10.0**last)]
    return sorted({*below, *(t for t in ticks if low < t < high), *above})


def _clean(value: float) -> float:
    """Round away float noise (0.30000000000000004 → 0.3)."""
    return float(f"{value:.12g}")


def label(value: float) -> str:
    """Write a tick: 0.5, 1, 2.5, 0.001, 1e-05."""
    return f"{value:g}"


@dataclass(frozen=True)
class Scale:
    """A value axis: its ticks, whether it is logarithmic, and where a value falls on it."""

    ticks: list[float]
    log: bool

    @classmethod
    def of(cls, values: Sequence[float], count: int = 5) -> "Scale":
        """Choose the scale for values: log when all are positive and span over a decade
        (inf and NaN left out; 0 to 1 when no value is finite)."""
        drawn = [v for v in values if math.isfinite(v)] or [0.0, 1.0]
        low, high = min(drawn), max(drawn)
        if low > 0 and high / low > LOG_SPAN:
            return cls(log_ticks(low, high), True)
        return cls(linear_ticks(low, high, count), False)

    def fraction(self, value: float) -> float:
        """Return where value falls between the first tick (0) and the last (1)."""
        low, high = self.ticks[0], self.ticks[-1]
        if self.log:
            value, low, high = (math.log10(max(v, 1e-300)) for v in (value, low, high))
        return 0.5 if high == low else (value - low) / (high - low)


def epoch_ticks(first: int, last: int, count: int) -> list[int]:
    """Return whole-number epoch ticks: first, last and round steps between (about count)."""
    step = max(1, round(nice_step(last - first, count))) if last > first else 1
    inner = range((first // step + 1) * step, last, step)
    ticks = [first, *(t for t in inner if t - first >= step / 2 and last - t >= step / 2), last]
    return sorted(set(ticks))
