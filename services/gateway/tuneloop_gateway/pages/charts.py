"""Charts drawn on the server as SVG: pure functions of the numbers, no script needed.

Every value drawn is a number formatted here; the only text is fixed labels and task or
metric names, which are escaped. Each chart is drawn twice, for a wide and a narrow screen
(pages.css shows one), so its text is never scaled below about 11 px on a phone.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from tuneloop_gateway.pages.chart_values import finite_points, not_finite_epochs, not_finite_note
from tuneloop_gateway.pages.ticks import Scale, epoch_ticks, label

SERIES = (("train", "train_loss", "train loss"), ("valid", "valid_loss", "validation loss"))


@dataclass(frozen=True)
class Frame:
    """A chart's canvas in SVG units, the room kept for its axes and how many ticks it takes."""

    name: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    x_ticks: int
    y_ticks: int
    points: bool  # hoverable points with their values (the wide chart only)


WIDE = Frame("wide", 640, 260, 56, 16, 22, 40, 8, 5, True)
NARROW = Frame("narrow", 360, 250, 46, 10, 22, 40, 4, 4, False)
WIDTH = WIDE.width


def _scale(value: float, low: float, high: float, start: float, end: float) -> float:
    """Map value from [low, high] onto [start, end]."""
    if high == low:
        return (start + end) / 2
    return start + (value - low) * (end - start) / (high - low)


def both_sizes(draw: Callable[[Frame], str]) -> Markup:
    """Draw a chart for a wide and for a narrow screen; the stylesheet shows one of them."""
    return Markup(
        f'<div class="size-wide">{draw(WIDE)}</div><div class="size-narrow">{draw(NARROW)}</div>'
    )


def loss_panel(epochs: Sequence[dict], best_epoch: int | None, active: bool) -> Markup:
    """The loss chart of a job whose kind trains in epochs, or why it has none yet."""
    if not epochs:
        text = "No epoch has finished yet." if active else "No epoch finished: training never ran."
        return Markup(f'<p class="muted" id="loss-empty">{text}</p>')
    fields = [field for _, field, _ in SERIES]
    note = not_finite_note(not_finite_epochs(epochs, fields), "loss-not-finite")
    if not any(finite_points(epochs, field) for field in fields):
        text = "No finite loss to draw." if note else "No epoch logged a loss."
        return Markup(f'<p class="muted" id="loss-empty">{text}</p>') + note
    return both_sizes(lambda frame: loss_chart(epochs, best_epoch, frame)) + note


def loss_chart(epochs: Sequence[dict], best_epoch: int | None, frame: Frame = WIDE) -> str:
    """Draw train and validation loss per epoch; shade the epochs after the best one."""
    losses = [loss for _, field, _ in SERIES for _, loss in finite_points(epochs, field)]
    scale = Scale.of(losses or [0.0, 1.0], frame.y_ticks)  # inf and NaN are not drawn
    first, last = epochs[0]["epoch"], epochs[-1]["epoch"]
    bottom_y, right_x = frame.height - frame.bottom, frame.width - frame.right

    def x(epoch: int) -> float:
        return _scale(epoch, first, last, frame.left, right_x)

    def y(loss: float) -> float:
        return _scale(scale.fraction(loss), 0, 1, bottom_y, frame.top)

    kind = "log" if scale.log else "linear"
    parts = [
        f'<svg class="chart loss-chart {frame.name}" viewBox="0 0 {frame.width} {frame.height}" '
        f'role="img" aria-label="train and validation loss per epoch ({kind} scale)" '
        f'data-epochs="{len(epochs)}" data-scale="{kind}">'
    ]
    if best_epoch is not None and first <= best_epoch < last:
        bx = x(best_epoch)
        parts.append(
            f'<rect class="after-best" x="{bx:.1f}" y="{frame.top}" width="{right_x - bx:.1f}" '
            f'height="{bottom_y - frame.top}" data-from="{best_epoch + 1}" data-to="{last}">'
            "<title>after the best epoch: the validation loss got no lower</title></rect>"
            f'<text class="note" x="{right_x - 4}" y="{frame.top + 14}" text-anchor="end">'
            "after best</text>"
        )
    for tick in scale.ticks:
        ty = y(tick)
        parts.append(
            f'<line class="grid" x1="{frame.left}" y1="{ty:.1f}" x2="{right_x}" y2="{ty:.1f}"/>'
            f'<text class="tick y" x="{frame.left - 6}" y="{ty + 4:.1f}" text-anchor="end" '
            f'data-value="{tick:g}">{label(tick)}</text>'
        )
    for epoch in epoch_ticks(first, last, frame.x_ticks):
        parts.append(
            f'<text class="tick x" x="{x(epoch):.1f}" y="{bottom_y + 16}" '
            f'text-anchor="middle">{epoch}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{frame.left}" y1="{bottom_y}" x2="{right_x}" y2="{bottom_y}"/>'
        f'<text class="tick" x="{(frame.left + right_x) / 2}" y="{frame.height - 4}" '
        f'text-anchor="middle">epoch{" (log-scale loss)" if scale.log else ""}</text>'
    )
    if best_epoch is not None and first <= best_epoch <= last:
        bx = x(best_epoch)
        parts.append(
            f'<line class="best" x1="{bx:.1f}" y1="{frame.top}" x2="{bx:.1f}" y2="{bottom_y}" '
            f'data-epoch="{best_epoch}"><title>best epoch {best_epoch}</title></line>'
            f'<text class="note best-label" x="{bx:.1f}" y="{frame.top - 6}" '
            f'text-anchor="middle">best {best_epoch}</text>'
        )
    for series, field, name in SERIES:
        points = finite_points(epochs, field)
        if points:
            path = " ".join(f"{x(ep):.1f},{y(loss):.1f}" for ep, loss in points)
            parts.append(f'<polyline class="line {series}" points="{path}"/>')
            parts.extend(
                _point(series, name, ep, loss, x(ep), y(loss), frame) for ep, loss in points
            )
    parts.append("</svg>")
    return "".join(parts)


def _point(series: str, name: str, epoch: int, loss: float, px: float, py: float, f: Frame) -> str:
    """One epoch's value: hoverable with its number on the wide chart, a dot on the narrow."""
    if not f.points:
        return f'<circle class="dot {series}" cx="{px:.1f}" cy="{py:.1f}" r="2"/>'
    return (
        f'<circle class="point {series}" data-series="{series}" data-epoch="{epoch}" '
        f'data-loss="{loss:.6g}" cx="{px:.1f}" cy="{py:.1f}" r="3">'
        f"<title>epoch {epoch}: {name} {loss:.4f}</title></circle>"
    )


def metric_chart(rows: Sequence[dict]) -> Markup:
    """Baseline and fine-tuned bars per metric with their 95% CIs, in both sizes."""
    return both_sizes(lambda frame: metric_bars(rows, frame)) if rows else Markup("")


def metric_bars(rows: Sequence[dict], frame: Frame = WIDE) -> str:
    """Draw baseline and fine-tuned bars per metric on a 0-1 scale, with their 95% CIs.

    On the wide chart each metric's name is left of its bars; on the narrow one above them.
    """
    stacked = frame is NARROW
    bar, gap = 14, 2
    row_height = 2 * bar + gap + (30 if stacked else 14)
    label_width = 0 if stacked else 150
    right = frame.width - frame.right
    height = row_height * len(rows) + 24
    parts = [
        f'<svg class="chart metric-chart {frame.name}" viewBox="0 0 {frame.width} {height}" '
        'role="img" aria-label="baseline and fine-tuned metrics with 95% intervals">'
    ]
    for i, row in enumerate(rows):
        top = 8 + i * row_height + (16 if stacked else 0)
        label_y = top - 4 if stacked else top + bar + 4
        parts.append(f'<text class="label" x="0" y="{label_y}">{escape(row["metric"])}</text>')
        for j, side in enumerate(("baseline", "fine_tuned")):
            if row[side] is not None:
                parts.append(_bar(row, side, top + j * (bar + gap), bar, label_width, right))
    axis_y = height - 14
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        tx = label_width + _scale(tick, 0, 1, 0, right - label_width)
        anchor = "start" if tick == 0 and stacked else "end" if tick == 1 else "middle"
        parts.append(
            f'<text class="tick" x="{tx:.1f}" y="{axis_y + 10}" text-anchor="{anchor}">'
            f"{tick:g}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _bar(row: dict, side: str, by: float, bar: int, left: int, right: int) -> str:
    """One agent's bar of a metric and its 95% interval's whisker."""
    value, ci = row[side], row[f"{side}_ci"]
    width = _scale(max(0.0, min(1.0, value)), 0, 1, 0, right - left)
    drawn = (
        f'<rect class="bar {side}" data-metric="{escape(row["metric"])}" '
        f'data-value="{value:.6g}" x="{left}" y="{by}" width="{width:.1f}" '
        f'height="{bar}"><title>{side.replace("_", "-")} {value:.4f}</title></rect>'
    )
    if ci:
        low, high = (left + _scale(max(0.0, min(1.0, v)), 0, 1, 0, right - left) for v in ci)
        mid = by + bar / 2
        drawn += (
            f'<path class="ci" d="M{low:.1f},{mid - 4} v8 M{low:.1f},{mid} '
            f'H{high:.1f} M{high:.1f},{mid - 4} v8"><title>95% CI {ci[0]:.4f} to '
            f"{ci[1]:.4f}</title></path>"
        )
    return drawn
