"""The loss values a chart can draw: finite numbers only (a diverged run logs inf or NaN)."""

import math
from collections.abc import Iterable, Sequence

from markupsafe import Markup


def finite(value: object) -> bool:
    """Whether value is a number a chart can place (not None, inf or NaN)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def finite_points(epochs: Sequence[dict], field: str) -> list[tuple[int, float]]:
    """Return (epoch, value) of the epochs whose field is a finite number."""
    return [(e["epoch"], e[field]) for e in epochs if finite(e.get(field))]


def not_finite_epochs(epochs: Iterable[dict], fields: Sequence[str]) -> list[int]:
    """Return the epochs that logged a loss of fields that is not finite (inf, NaN)."""
    return sorted(
        {e["epoch"] for e in epochs for f in fields if e.get(f) is not None and not finite(e[f])}
    )


def not_finite_note(epochs: Sequence[int], id_: str, who: str = "") -> Markup:
    """A short note naming the epochs whose loss was not finite (not drawn), or nothing."""
    if not epochs:
        return Markup("")
    shown = ", ".join(str(e) for e in epochs[:12]) + (", …" if len(epochs) > 12 else "")
    noun = "epoch" if len(epochs) == 1 else "epochs"
    return Markup(
        f'<p class="muted" id="{id_}">{who}Loss not finite (inf or NaN: training diverged?) '
        f'at {noun} <span class="not-finite-epochs">{shown}</span>: not drawn.</p>'
    )
