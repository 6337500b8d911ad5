"""Waiting out Redis faults, and which stages the sweeper sends again."""

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ResponseError

from tuneloop.pipeline.sweep import pending_stages
from tuneloop.store.outage import backoff, persist


class Flaky:
    """Fails with the given errors, one per call, then answers "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors, self.calls = list(errors), 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_persist_waits_out_a_full_and_an_absent_redis() -> None:
    call, slept = Flaky(OutOfMemoryError("full"), RedisConnectionError("down")), []
    assert persist(call, grace=60, what="test", sleep=slept.append) == "ok"
    assert call.calls == 3
    assert slept == [backoff(0), backoff(1)]


def test_persist_gives_up_once_the_grace_is_spent() -> None:
    call = Flaky(*[RedisConnectionError("down")] * 10)
    with pytest.raises(RedisConnectionError):
        persist(call, grace=1.0, what="test", sleep=lambda s: None)
    assert call.calls == 2  # 0.5 s fits in the grace, 0.5 + 1 s does not


def test_persist_does_not_retry_an_error_waiting_cannot_fix() -> None:
    call = Flaky(ResponseError("WRONGTYPE"))
    with pytest.raises(ResponseError):
        persist(call, grace=60, what="test", sleep=lambda s: None)
    assert call.calls == 1


def test_backoff_doubles_up_to_its_ceiling() -> None:
    assert [backoff(n) for n in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]


@pytest.mark.parametrize(
    ("done", "pending"),
    [
        (set(), ["collect"]),
        ({"collect", "filter", "prepare"}, ["embed", "evaluate_baseline"]),
        ({"collect", "filter", "prepare", "embed"}, ["evaluate_baseline", "fine_tune"]),
        ({"collect", "filter", "prepare", "evaluate_baseline"}, ["embed"]),
        ({"collect", "filter", "prepare", "embed", "evaluate_baseline"}, ["fine_tune"]),
        ({"collect", "filter", "prepare", "embed", "fine_tune"}, ["evaluate_baseline"]),
        (
            {"collect", "filter", "prepare", "embed", "evaluate_baseline", "fine_tune"},
            ["evaluate_fine_tuned"],
        ),
        (
            {
                "collect",
                "filter",
                "prepare",
                "embed",
                "evaluate_baseline",
                "fine_tune",
                "evaluate_fine_tuned",
                "compare",
                "embed:part:0",
                "epoch:1",
            },
            [],
        ),
    ],
)
def test_pending_stages_are_those_whose_inputs_are_all_done(done, pending) -> None:
    assert pending_stages(done) == pending
