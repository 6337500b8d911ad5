"""Charts drawn on the server as SVG: pure functions of the numbers, no script needed.

Every value drawn is a number formatted here; the only text is fixed labels and task or
metric names, which are escaped.
"""

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 260
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 52, 16, 16, 40
SERIES = (("train", "train_loss", "train loss"), ("valid", "valid_loss", "validation loss"))


def _scale(value: float, low: float, high: float, start: float, end: float) -> float:
    """Map value from [low, high] onto [start, end]."""
    if high == low:
        return (start + end) / 2
    return start + (value - low) * (end - start) / (high - low)


def loss_chart(epochs: Sequence[dict], best_epoch: int | None = None) -> Markup:
    """Draw train and validation loss per epoch: one point per epoch and series."""
    if not epochs:
        return Markup('<p class="muted" id="loss-empty">No epoch has finished yet.</p>')
    losses = [e[field] for e in epochs for _, field, _ in SERIES if e.get(field) is not None]
    top = max(losses) * 1.05 or 1.0
    first, last = epochs[0]["epoch"], epochs[-1]["epoch"]
    bottom_y = HEIGHT - PAD_BOTTOM

    def x(epoch: int) -> float:
        return _scale(epoch, first, last, PAD_LEFT, WIDTH - PAD_RIGHT)

    def y(loss: float) -> float:
        return _scale(loss, 0.0, top, bottom_y, PAD_TOP)

    parts = [
        f'<svg class="chart loss-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="train and validation loss per epoch" data-epochs="{len(epochs)}">',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{bottom_y}" x2="{WIDTH - PAD_RIGHT}" '
        f'y2="{bottom_y}"/><line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" '
        f'y2="{bottom_y}"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        value, ty = top * fraction, y(top * fraction)
        parts.append(
            f'<text class="tick" x="{PAD_LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{value:.3g}</text>"
        )
    for epoch in sorted({first, last, epochs[len(epochs) // 2]["epoch"]}):
        parts.append(
            f'<text class="tick" x="{x(epoch):.1f}" y="{bottom_y + 16}" '
            f'text-anchor="middle">{epoch}</text>'
        )
    parts.append(
        f'<text class="tick" x="{(PAD_LEFT + WIDTH - PAD_RIGHT) / 2}" y="{HEIGHT - 4}" '
        'text-anchor="middle">epoch</text>'
    )
    if best_epoch is not None and first <= best_epoch <= last:
        bx = x(best_epoch)
        parts.append(
            f'<line class="best" x1="{bx:.1f}" y1="{PAD_TOP}" x2="{bx:.1f}" y2="{bottom_y}">'
            f"<title>best epoch {best_epoch}</title></line>"
        )
    for series, field, label in SERIES:
        points = [(e["epoch"], e[field]) for e in epochs if e.get(field) is not None]
        if not points:
            continue
        path = " ".join(f"{x(ep):.1f},{y(loss):.1f}" for ep, loss in points)
        parts.append(f'<polyline class="line {series}" points="{path}"/>')
        parts.extend(
            f'<circle class="point {series}" data-series="{series}" data-epoch="{ep}" '
            f'data-loss="{loss:.6g}" cx="{x(ep):.1f}" cy="{y(loss):.1f}" r="3">'
            f"<title>epoch {ep}: {label} {loss:.4f}</title></circle>"
            for ep, loss in points
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def metric_bars(rows: Sequence[dict]) -> Markup:
    """Draw baseline and fine-tuned bars per metric on a 0-1 scale, with their 95% CIs."""
    if not rows:
        return Markup("")
    row_height, label_width, bar = 44, 150, 14
    right = WIDTH - PAD_RIGHT
    height = row_height * len(rows) + 24
    parts = [
        f'<svg class="chart metric-chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="baseline and fine-tuned metrics with 95% intervals">'
    ]
    for i, row in enumerate(rows):
        top = 8 + i * row_height
        parts.append(
            f'<text class="label" x="0" y="{top + bar + 4}">{escape(row["metric"])}</text>'
        )
        for j, side in enumerate(("baseline", "fine_tuned")):
            value, ci = row[side], row[f"{side}_ci"]
            if value is None:
                continue
            by = top + j * (bar + 2)
            bar_width = _scale(max(0.0, min(1.0, value)), 0, 1, 0, right - label_width)
            parts.append(
                f'<rect class="bar {side}" data-metric="{escape(row["metric"])}" '
                f'data-value="{value:.6g}" x="{label_width}" y="{by}" width="{bar_width:.1f}" '
                f'height="{bar}"><title>{side.replace("_", "-")} {value:.4f}</title></rect>'
            )
            if ci:
                low, high = (label_width + _scale(v, 0, 1, 0, right - label_width) for v in ci)
                mid = by + bar / 2
                parts.append(
                    f'<path class="ci" d="M{low:.1f},{mid - 4} v8 M{low:.1f},{mid} '
                    f'H{high:.1f} M{high:.1f},{mid - 4} v8"><title>95% CI {ci[0]:.4f} to '
                    f"{ci[1]:.4f}</title></path>"
                )
    axis_y = height - 14
    for tick in (0.0, 0.5, 1.0):
        tx = label_width + _scale(tick, 0, 1, 0, right - label_width)
        parts.append(f'<text class="tick" x="{tx:.1f}" y="{axis_y + 10}" text-anchor="middle">')
        parts.append(f"{tick:g}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))
