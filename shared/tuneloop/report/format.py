"""How a p-value is written: one home for the report's verdict, the CLI and the pages.

Standard library only (the `tuneloop` CLI imports it): a p-value below what a float can tell
from 0 is written as a bound, never as `p = 0`.
"""

import math

FLOOR = 1e-300  # below it a p-value is only known to be tiny (scipy's underflow lands at 0.0)
DIGITS = 2  # significant digits


def p_value(p: float | None) -> str:
    """Return "p = 0.012", "p = 3.1e-12" or "p < 1e-300"; "p n/a" when there is none."""
    if p is None or math.isnan(p):
        return "p n/a"
    if p < FLOOR:
        return f"p < {FLOOR:g}"
    return f"p = {p:.{DIGITS}g}"
