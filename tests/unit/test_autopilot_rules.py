"""The autopilot's pure rules: when a run is due, and when the live model is rolled back."""

import pytest
from scipy import stats

from tuneloop.autopilot import rollback, trigger

RULE = {"window": 20, "margin": 0.0, "confidence": 0.95}


def autopilot(**trigger_: object) -> dict:
    """An autopilot created at t=1000 with 10 ratings then, never run."""
    return {"trigger": trigger_, "ratings_at_last_run": 10, "last_run_at": None, "created_at": 1000}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("6h", 21600), ("1d", 86400), ("1d12h", 129600), ("1h30m", 5400)],
)
def test_a_period_reads_as_its_seconds(text: str, seconds: int) -> None:
    assert trigger.parse_every(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "6", "6x", "1m1h", "-5m", "6 h"])
def test_a_malformed_period_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="is not a period"):
        trigger.parse_every(text)


def test_new_ratings_are_due_at_the_count_not_one_before() -> None:
    ap = autopilot(new_ratings=50)
    assert trigger.due(ap, 59, 2000) is None
    assert trigger.due(ap, 60, 2000) == "50 new ratings (trigger: every 50)"


def test_every_counts_from_creation_then_from_the_last_run() -> None:
    ap = autopilot(every="1h")
    assert trigger.due(ap, 10, 1000 + 3599) is None
    assert "3600 s since the autopilot's creation" in trigger.due(ap, 10, 1000 + 3600)
    ran = {**ap, "last_run_at": 5000}
    assert trigger.due(ran, 10, 5000 + 3599) is None
    assert "since the last run" in trigger.due(ran, 10, 5000 + 3600)


def test_either_trigger_starts_a_run_when_both_are_given() -> None:
    ap = autopilot(new_ratings=50, every="1h")
    assert trigger.due(ap, 60, 1001).startswith("50 new ratings")
    assert trigger.due(ap, 11, 1000 + 3600).startswith("3600 s")
    assert trigger.due(ap, 11, 1001) is None


def test_no_judgement_until_both_models_have_a_window_of_ratings() -> None:
    assert rollback.judge([0.1] * 19, [0.9] * 40, RULE) is None
    assert rollback.judge([0.1] * 40, [0.9] * 19, RULE) is None


def test_clearly_lower_ratings_roll_back_and_only_the_window_counts() -> None:
    live = [0.2, 0.3] * 10 + [1.0] * 30  # newest first: the last 20 are low
    previous = [0.8, 0.9] * 10
    found = rollback.judge(live, previous, RULE)
    assert found is not None and found.roll_back
    assert found.live_ratings == found.previous_ratings == 20
    assert found.live_mean == pytest.approx(0.25) and found.previous_mean == pytest.approx(0.85)
    assert found.high < 0 and "is below" in found.reason


def test_the_interval_is_welchs() -> None:
    live = [0.5, 0.7, 0.6, 0.4, 0.9, 0.3, 0.6, 0.5, 0.8, 0.2] * 2
    previous = [0.9, 0.6, 0.7, 0.8, 0.5, 0.9, 1.0, 0.7, 0.6, 0.8] * 2
    found = rollback.judge(live, previous, RULE)
    expected = stats.ttest_ind(live, previous, equal_var=False).confidence_interval(0.95)
    assert (found.low, found.high) == pytest.approx((expected.low, expected.high))


def test_a_drop_within_the_margin_does_not_roll_back() -> None:
    live, previous = [0.7, 0.8] * 10, [0.8, 0.9] * 10  # 0.1 lower, surely
    assert rollback.judge(live, previous, RULE).roll_back
    wide = {**RULE, "margin": 0.15}
    found = rollback.judge(live, previous, wide)
    assert not found.roll_back and "is not shown below" in found.reason


def test_a_noisy_gap_whose_interval_holds_zero_does_not_roll_back() -> None:
    live = [0.0, 1.0] * 10
    previous = [0.1, 1.0] * 10
    found = rollback.judge(live, previous, RULE)
    assert found.difference < 0 and found.low < 0 < found.high and not found.roll_back
