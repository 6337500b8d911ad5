"""The out-of-scope trade-off's settings, numpy-free so that the schemas can name them."""

DEFAULT_MAX_IN_SCOPE_LOSS = 0.02
# The thresholds a trade-off curve shows besides 0 (no abstention) and the chosen one.
CURVE_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def curve_thresholds(chosen: float) -> list[float]:
    """Return the thresholds a trade-off curve shows: 0, the chosen one and CURVE_THRESHOLDS."""
    return sorted({0.0, float(chosen), *CURVE_THRESHOLDS})
