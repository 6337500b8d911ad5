"""The pipeline metrics' pure parts: bucket math, Redis fields read back, writes never raise."""

import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from tuneloop.store import metrics
from tuneloop.store.metrics import (
    INF,
    STAGE_BUCKETS,
    MetricsStore,
    bucket_of,
    cumulative,
    le_label,
    queue_lists,
)


def test_bounds_are_labelled_as_prometheus_writes_them() -> None:
    assert [le_label(b) for b in (0.01, 0.5, 1, 10, 3600)] == [
        "0.01",
        "0.5",
        "1.0",
        "10.0",
        "3600.0",
    ]
    assert le_label(float("inf")) == INF


@pytest.mark.parametrize(
    ("seconds", "label"),
    [
        (0.0, "0.01"),
        (0.01, "0.01"),  # a bound is inclusive (le: less than or equal)
        (0.0100001, "0.025"),
        (0.3, "0.5"),
        (1.0, "1.0"),
        (59.9, "60.0"),
        (3600.0, "3600.0"),
        (3600.5, INF),
    ],
)
def test_an_observation_falls_in_the_smallest_bucket_that_holds_it(
    seconds: float, label: str
) -> None:
    assert bucket_of(seconds) == label


def test_counts_per_bucket_become_cumulative_buckets_ending_with_inf() -> None:
    counts = {"0.5": 2, "1.0": 1, "60.0": 3, INF: 4}
    buckets = cumulative(counts)
    assert len(buckets) == len(STAGE_BUCKETS) + 1
    assert buckets[-1] == (INF, 10)
    as_dict = dict(buckets)
    assert (as_dict["0.25"], as_dict["0.5"], as_dict["1.0"], as_dict["30.0"]) == (0, 2, 3, 3)
    assert (as_dict["60.0"], as_dict["3600.0"]) == (6, 6)
    values = [n for _, n in buckets]
    assert values == sorted(values)


def test_observations_read_back_as_one_histogram_per_stage() -> None:
    fields = {}
    for stage, seconds in [("collect", 0.02), ("collect", 0.3), ("fine_tune", 42.0)]:
        key = f"{stage}|{bucket_of(seconds)}"
        fields[key] = str(int(fields.get(key, "0")) + 1)
        fields[f"{stage}|sum"] = str(float(fields.get(f"{stage}|sum", "0")) + seconds)
    histograms = metrics._histograms(fields)
    assert set(histograms) == {"collect", "fine_tune"}
    collect = dict(histograms["collect"].buckets)
    assert (collect["0.01"], collect["0.025"], collect["0.25"], collect["0.5"]) == (0, 1, 1, 2)
    assert collect[INF] == 2
    assert histograms["collect"].sum == pytest.approx(0.32)
    assert dict(histograms["fine_tune"].buckets)["30.0"] == 0
    assert dict(histograms["fine_tune"].buckets)["60.0"] == 1


def test_a_queue_is_read_from_each_of_kombus_priority_lists() -> None:
    assert queue_lists("tuneloop.pipeline") == [
        "tuneloop.pipeline",
        "tuneloop.pipeline\x06\x163",
        "tuneloop.pipeline\x06\x166",
        "tuneloop.pipeline\x06\x169",
    ]


class DownRedis:
    """A Redis client whose every command fails as if the server were gone."""

    def register_script(self, _script: str) -> object:
        return self._fail

    def pipeline(self, transaction: bool = True) -> object:
        raise RedisConnectionError("Redis is down")

    def hincrby(self, *_args: object) -> None:
        self._fail()

    @staticmethod
    def _fail(*_args: object, **_kwargs: object) -> None:
        raise RedisConnectionError("Redis is down")


def test_a_metrics_write_that_fails_is_logged_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MetricsStore(DownRedis())  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger=metrics.__name__):
        store.stage_finished("collect", 0.5)
        store.stage_retried("collect", "waiting")
        store.stage_crashes_seen("ftjob-1", "collect", 1)
        store.epochs_trained(3, 1.5)
    assert len(caplog.records) == 4
    assert all("dropped" in r.getMessage() for r in caplog.records)
