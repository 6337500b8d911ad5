"""DEMO_HOLD: a finite number of seconds, not negative; anything else is an error naming it."""

import pytest
from tuneloop_devstack.demo import hold_seconds


@pytest.mark.parametrize(("raw", "seconds"), [("", 0.0), ("  ", 0.0), ("600", 600.0), ("1.5", 1.5)])
def test_a_finite_number_of_seconds_is_the_hold(raw: str, seconds: float) -> None:
    assert hold_seconds({"DEMO_HOLD": raw}) == seconds
    assert hold_seconds({}) == 0.0


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "Infinity", "-1", "soon"])
def test_anything_else_is_an_error_naming_demo_hold(raw: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        hold_seconds({"DEMO_HOLD": raw})
    message = str(stopped.value.code)
    assert message.startswith("DEMO_HOLD must be a finite number of seconds, 0 or more"), message
    assert repr(raw) in message
