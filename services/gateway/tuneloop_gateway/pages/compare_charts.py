"""Two jobs' loss curves overlaid on one SVG chart, drawn as charts.loss_chart draws one job's.

Each job has its own colour (SVG presentation attributes, so no stylesheet rule is needed);
training loss is a solid line, validation loss a dashed one.
"""

from collections.abc import Mapping, Sequence

from markupsafe import Markup

from tuneloop_gateway.pages.chart_values import finite_points, not_finite_epochs, not_finite_note
from tuneloop_gateway.pages.charts import WIDE, Frame, _scale, both_sizes
from tuneloop_gateway.pages.ticks import linear_ticks

COLOURS = {"a": "#1d4ed8", "b": "#c2410c"}
FIELDS = (
    ("train", "train_loss", "train loss", ""),
    ("valid", "valid_loss", "validation loss", "6 4"),
)


def compare_loss_chart(curves: Mapping[str, Sequence[dict]]) -> Markup:
    """Draw jobs a and b's losses for a wide and a narrow screen (the stylesheet shows one)."""
    fields = [field for _, field, _, _ in FIELDS]
    notes = Markup("").join(
        not_finite_note(
            not_finite_epochs(s, fields), f"compare-loss-not-finite-{j}", f"{j.upper()}: "
        )
        for j, s in curves.items()
    )
    if not any(finite_points(s, f) for s in curves.values() for f in fields):
        text = "Neither job has a finite loss to draw." if notes else "Neither job has epochs."
        return Markup(f'<p class="muted" id="compare-loss-empty">{text}</p>') + notes
    return both_sizes(lambda frame: overlaid_chart(curves, frame)) + notes


def overlaid_chart(curves: Mapping[str, Sequence[dict]], f: Frame = WIDE) -> str:
    """Draw jobs a and b's train and validation loss per epoch on shared axes, in frame f."""
    losses = [
        loss
        for series in curves.values()
        for _, field, _, _ in FIELDS
        for _, loss in finite_points(series, field)  # inf and NaN are not drawn
    ]
    epochs = [e["epoch"] for series in curves.values() for e in series] or [0]
    first, last = min(epochs), max(epochs)
    levels = linear_ticks(0.0, max(losses, default=1.0), f.y_ticks)
    top, bottom_y = levels[-1] or 1.0, f.height - f.bottom

    def x(epoch: int) -> float:
        return _scale(epoch, first, last, f.left, f.width - f.right)

    def y(loss: float) -> float:
        return _scale(loss, 0.0, top, bottom_y, f.top)

    parts = [
        f'<svg class="chart loss-chart compare-loss-chart" viewBox="0 0 {f.width} {f.height}" '
        'role="img" aria-label="train and validation loss per epoch of jobs A and B">',
        f'<line class="axis" x1="{f.left}" y1="{bottom_y}" x2="{f.width - f.right}" '
        f'y2="{bottom_y}"/><line class="axis" x1="{f.left}" y1="{f.top}" x2="{f.left}" '
        f'y2="{bottom_y}"/>',
        *_ticks(levels, y, x, sorted({first, (first + last) // 2, last}), bottom_y, f),
    ]
    for job, series in curves.items():
        for name, field, label, dash in FIELDS:
            points = finite_points(series, field)
            key, text = f"{job}-{name}", f"{job.upper()} {label}"
            parts += _series(key, text, dash, points, x, y, f.points)
    parts.append("</svg>")
    return "".join(parts)


def compare_legend() -> Markup:
    """Return the chart's legend as HTML (readable at any width): a swatch per job and loss."""
    parts = []
    for job, colour in COLOURS.items():
        for name, _, label, dash in FIELDS:
            parts.append(
                f'<span class="legend-item" data-series="{job}-{name}"><svg width="24" '
                f'height="10" aria-hidden="true"><line x1="0" y1="5" x2="24" y2="5" '
                f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash or "none"}"/></svg> '
                f"{job.upper()} {label}</span>"
            )
    return Markup(" ".join(parts))


def _ticks(levels: list[float], y, x, epochs: list[int], bottom_y: float, f: Frame) -> list[str]:
    """Return the loss ticks (round numbers), the epoch ticks and the axis name."""
    parts = [
        f'<text class="tick" x="{f.left - 6}" y="{y(level) + 4:.1f}" text-anchor="end">'
        f"{level:.3g}</text>"
        for level in levels
    ]
    parts += [
        f'<text class="tick" x="{x(e):.1f}" y="{bottom_y + 16}" text-anchor="middle">{e}</text>'
        for e in epochs
    ]
    parts.append(
        f'<text class="tick" x="{(f.left + f.width - f.right) / 2}" y="{f.height - 4}" '
        'text-anchor="middle">epoch</text>'
    )
    return parts


def _series(key: str, label: str, dash: str, points: list, x, y, dots: bool) -> list[str]:
    """Return one series' line and its points (data-series names the job and the loss)."""
    if not points:
        return []
    colour = COLOURS[key[0]]
    path = " ".join(f"{x(ep):.1f},{y(loss):.1f}" for ep, loss in points)
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return [
        f'<polyline class="line" data-series="{key}" points="{path}" stroke="{colour}"{dashed}/>',
        *(
            f'<circle class="point" data-series="{key}" data-epoch="{ep}" data-loss="{loss:.6g}" '
            f'cx="{x(ep):.1f}" cy="{y(loss):.1f}" r="3" stroke="{colour}">'
            f"<title>epoch {ep}: {label} {loss:.4f}</title></circle>"
            for ep, loss in (points if dots else [])
        ),
    ]
