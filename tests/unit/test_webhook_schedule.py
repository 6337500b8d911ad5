"""A delivery's retries: at once, then the schedule's delays, then given up (pure)."""

import pytest

from tuneloop.settings import Settings
from tuneloop.store.webhook_deliveries import delivery
from tuneloop.webhooks import schedule
from tuneloop.webhooks.schedule import DEFAULT_DELAYS, LOGGED_ATTEMPTS, Outcome

FAILED = Outcome(500, "oops", None, 12)
REFUSED = Outcome(None, "", "ConnectionRefusedError: [Errno 111] Connection refused", 0)
OK = Outcome(204, "", None, 3)


def fresh() -> dict:
    """A new delivery, as emit records it."""
    event = {"id": "evt_1", "type": "model.promoted"}
    return delivery("whd_1", "wh_1", "default", event, "{}", 1000)


def test_the_default_schedule_retries_for_more_than_a_day_as_svix_does() -> None:
    assert DEFAULT_DELAYS == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert schedule.total_seconds(DEFAULT_DELAYS) == 99_305  # about 27.6 h
    assert schedule.total_seconds(DEFAULT_DELAYS) >= 24 * 3600
    assert Settings.from_env({}).webhook_retry_delays == DEFAULT_DELAYS


def test_a_delivery_that_always_fails_is_tried_on_the_schedule_then_given_up() -> None:
    record, at, dues = fresh(), 1000.0, []
    for _ in range(len(DEFAULT_DELAYS) + 1):
        record, due = schedule.after_attempt(record, FAILED, at, DEFAULT_DELAYS)
        dues.append(None if due is None else due - at)
        at = due if due is not None else at
    assert dues == [*DEFAULT_DELAYS, None]
    assert record["status"] == "failed" and record["attempts"] == 8
    assert record["next_attempt_at"] is None
    assert len(record["attempt_log"]) == LOGGED_ATTEMPTS - 2  # 8 of at most 10
    assert at - 1000.0 == sum(DEFAULT_DELAYS)  # the last attempt, 27.6 h after the first


def test_a_2xx_succeeds_and_anything_else_is_retried() -> None:
    retried, due = schedule.after_attempt(fresh(), REFUSED, 1000.0, (1.0, 2.0))
    assert retried["status"] == "pending" and due == 1001.0
    assert retried["last_error"].startswith("ConnectionRefusedError")
    assert retried["last_status_code"] is None and retried["next_attempt_at"] == 1001
    done, due = schedule.after_attempt(retried, OK, 1001.5, (1.0, 2.0))
    assert done["status"] == "succeeded" and due is None and done["attempts"] == 2
    assert [a["status_code"] for a in done["attempt_log"]] == [None, 204]
    redirected, _ = schedule.after_attempt(fresh(), Outcome(302), 0.0, (1.0,))
    assert redirected["status"] == "pending"  # a redirect is not followed: not delivered


def test_an_attempt_asked_for_by_hand_ends_the_delivery_either_way() -> None:
    once = {**fresh(), "status": "pending", "once": True, "attempts": 8}
    failed, due = schedule.after_attempt(once, FAILED, 5.0, DEFAULT_DELAYS)
    assert failed["status"] == "failed" and due is None and failed["once"] is False


def test_the_log_keeps_the_newest_attempts() -> None:
    record = fresh()
    for i in range(LOGGED_ATTEMPTS + 3):
        record, _ = schedule.after_attempt(record, Outcome(500 + i), float(i), (0.0,) * 20)
    assert len(record["attempt_log"]) == LOGGED_ATTEMPTS
    assert record["attempt_log"][-1]["status_code"] == 500 + LOGGED_ATTEMPTS + 2


@pytest.mark.parametrize(
    ("text", "delays"), [("1,1", (1.0, 1.0)), (" 5, 300 ", (5.0, 300.0)), ("", ())]
)
def test_the_delays_setting_reads_seconds(text: str, delays: tuple) -> None:
    env = {"TUNELOOP_WEBHOOK_RETRY_DELAYS": text}
    assert Settings.from_env(env).webhook_retry_delays == delays


@pytest.mark.parametrize("text", ["soon", "-1", "1,inf", "nan"])
def test_a_bad_delays_setting_fails_start_up_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="TUNELOOP_WEBHOOK_RETRY_DELAYS"):
        Settings.from_env({"TUNELOOP_WEBHOOK_RETRY_DELAYS": text})


def test_the_private_target_setting_is_off_unless_said_and_read_strictly() -> None:
    assert Settings.from_env({}).webhook_allow_private is False
    for yes in ("1", "true", "YES", "on"):
        assert Settings.from_env({"TUNELOOP_WEBHOOK_ALLOW_PRIVATE": yes}).webhook_allow_private
    for no in ("0", "false", "off", ""):
        assert not Settings.from_env({"TUNELOOP_WEBHOOK_ALLOW_PRIVATE": no}).webhook_allow_private
    with pytest.raises(ValueError, match="TUNELOOP_WEBHOOK_ALLOW_PRIVATE"):
        Settings.from_env({"TUNELOOP_WEBHOOK_ALLOW_PRIVATE": "maybe"})


@pytest.mark.parametrize("value", ["0", "-1", "31"])
def test_an_attempt_timeout_outside_its_claim_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="TUNELOOP_WEBHOOK_TIMEOUT"):
        Settings.from_env({"TUNELOOP_WEBHOOK_TIMEOUT": value})
