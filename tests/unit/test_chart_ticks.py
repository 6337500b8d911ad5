"""Loss chart axes: round ticks, a log scale past a decade, the best epoch and what follows it."""

import re

import pytest

from tuneloop_gateway.pages import charts
from tuneloop_gateway.pages.ticks import Scale, epoch_ticks, linear_ticks, log_ticks, nice_step


@pytest.mark.parametrize(
    ("span", "count", "step"),
    [(1.0, 5, 0.2), (0.37, 5, 0.1), (13.0, 5, 2.0), (0.009, 4, 0.002), (100.0, 4, 20.0)],
)
def test_steps_are_one_two_or_five_times_a_power_of_ten(span, count, step):
    assert nice_step(span, count) == pytest.approx(step)


def test_linear_ticks_are_round_numbers_that_cover_the_values():
    ticks = linear_ticks(0.2813, 1.5246, 5)
    assert ticks == [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6]
    assert ticks[0] <= 0.2813 and ticks[-1] >= 1.5246
    single = linear_ticks(0.5, 0.5)  # one value: a band of round ticks around it
    assert single[0] < 0.5 < single[-1] and 0.5 in single


def test_log_ticks_are_powers_of_ten_and_add_two_and_five_over_few_decades():
    assert log_ticks(0.0004, 2.3) == [0.0001, 0.001, 0.01, 0.1, 1, 10]
    assert log_ticks(0.03, 1.2) == [0.02, 0.05, 0.1, 0.2, 0.5, 1, 2]


def test_a_log_scale_only_when_positive_values_span_more_than_a_decade():
    assert Scale.of([0.05, 1.4]).log is True
    assert Scale.of([0.2, 1.4]).log is False
    assert Scale.of([0.0, 1.4]).log is False  # a zero has no logarithm
    log = Scale.of([0.01, 1.0])
    assert log.fraction(0.1) == pytest.approx(0.5)  # halfway in decades, not in value


def test_epoch_ticks_are_whole_round_numbers_with_the_first_and_last():
    assert epoch_ticks(1, 100, 8) == [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert epoch_ticks(1, 8, 8) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert epoch_ticks(1, 1, 4) == [1]


def overfitting(n: int = 10, best: int = 4, low: float = 0.3) -> list[dict]:
    """Train loss falls; validation loss is lowest at best, then climbs."""
    return [
        {"epoch": e, "train_loss": 1.2 / e, "valid_loss": low + 0.05 * abs(e - best)}
        for e in range(1, n + 1)
    ]


def y_ticks(svg: str) -> list[float]:
    return [float(v) for v in re.findall(r'class="tick y"[^>]*data-value="([^"]+)"', svg)]


def test_the_loss_chart_shades_the_epochs_after_the_best_and_marks_it():
    svg = charts.loss_chart(overfitting(), 4)
    assert 'data-from="5" data-to="10"' in svg and 'class="after-best"' in svg
    assert 'class="best"' in svg and "best 4" in svg
    assert 'class="after-best"' not in charts.loss_chart(overfitting(), 10)  # the last is best


def test_the_loss_chart_uses_round_ticks_and_a_log_scale_over_a_decade():
    linear = charts.loss_chart(overfitting(), 4)
    assert 'data-scale="linear"' in linear
    assert y_ticks(linear) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2]
    spread = [{"epoch": e, "train_loss": 2.0 / 4**e, "valid_loss": 0.5} for e in range(1, 6)]
    log = charts.loss_chart(spread, 5)
    assert 'data-scale="log"' in log and "log-scale loss" in log
    assert y_ticks(log) == [0.001, 0.01, 0.1, 1.0]


def test_the_narrow_chart_keeps_its_text_large_enough_for_a_phone():
    # Drawn 360 units wide for a phone's ~340 px: a 12-unit label is over 11 px there.
    panel = str(charts.loss_panel(overfitting(), 4, active=False))
    assert panel.count("<svg") == 2 and 'viewBox="0 0 360 ' in panel
    assert 'class="size-narrow"' in panel


def test_without_epochs_the_panel_says_whether_one_may_still_come():
    assert "No epoch has finished yet." in charts.loss_panel([], None, active=True)
    ended = charts.loss_panel([], None, active=False)
    assert "yet" not in ended and "training never ran" in ended
