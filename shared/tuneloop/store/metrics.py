"""Pipeline metrics in Redis: what every worker did, summed, for the gateway's /metrics.

Workers are many processes in many containers, so their counts live in Redis: a stage's end
adds to a few hash fields in one MULTI/EXEC, and the gateway's metrics server reads them when
Prometheus scrapes. A histogram is kept as one count per bucket (not cumulative) plus a sum;
cumulative() turns that into Prometheus's buckets. A metrics write never fails the work it
measures: a refused write is logged and dropped.
"""

import bisect
import functools
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ParamSpec

from redis import Redis

from tuneloop import contracts
from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE
from tuneloop.store import keys, scripts

log = logging.getLogger(__name__)

# Upper bounds (seconds) of the stage duration buckets: a stage takes milliseconds (collect
# of a few rows) to an hour (fine_tune of a million ratings).
STAGE_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    1800.0, 3600.0,
)  # fmt: skip
INF = "+Inf"
QUEUES = (PIPELINE_QUEUE, INTERACTIVE_QUEUE)
# kombu's Redis transport keeps a queue's messages of priority p > 0 in the list
# "{queue}\x06\x16{p}", for p in its priority steps; priority 0 in the list "{queue}".
KOMBU_PRIORITY_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)
# Why a stage task was sent again: it waited (for its inputs or a lease), or Redis failed it.
RETRY_REASONS = ("waiting", "redis_fault")

COUNT_CRASHES = scripts.source("metrics_count_crashes")

P = ParamSpec("P")


def le_label(bound: float) -> str:
    """Return a bucket's upper bound as Prometheus writes it (0.5, 1.0, +Inf)."""
    return INF if math.isinf(bound) else repr(float(bound))


def bucket_of(value: float, bounds: tuple[float, ...] = STAGE_BUCKETS) -> str:
    """Return the label of the smallest bound at least value (bounds sorted; else +Inf)."""
    index = bisect.bisect_left(bounds, value)
    return le_label(bounds[index]) if index < len(bounds) else INF


def cumulative(
    counts: Mapping[str, int], bounds: tuple[float, ...] = STAGE_BUCKETS
) -> list[tuple[str, int]]:
    """Return Prometheus's cumulative buckets, +Inf last, from counts per bucket label."""
    labels = [le_label(b) for b in bounds] + [INF]
    total, out = 0, []
    for label in labels:
        total += int(counts.get(label, 0))
        out.append((label, total))
    return out


def queue_lists(queue: str) -> list[str]:
    """Return the Redis lists that hold a Celery queue's messages, one per priority step."""
    return [queue if p == 0 else f"{queue}{KOMBU_PRIORITY_SEP}{p}" for p in KOMBU_PRIORITY_STEPS]


def _never_raises(write: Callable[P, None]) -> Callable[P, None]:
    """Log and drop any error of a metrics write: metrics never fail the work they measure."""

    @functools.wraps(write)
    def safe(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            write(*args, **kwargs)
        except Exception:  # whatever it was, the stage goes on
            log.warning("metrics write %s failed; dropped", write.__name__, exc_info=True)

    return safe


@dataclass(frozen=True)
class Histogram:
    """One stage's duration histogram: cumulative buckets (+Inf last) and the sum."""

    buckets: list[tuple[str, int]]
    sum: float


@dataclass(frozen=True)
class Snapshot:
    """Every pipeline metric, read at one scrape."""

    jobs_by_status: dict[str, int]
    stage_seconds: dict[str, Histogram]
    stage_retries: dict[tuple[str, str], int]  # (stage, reason) -> count
    stage_crashes: dict[str, int]
    epochs: int
    epoch_seconds: float
    last_epochs_per_second: float | None
    queue_depth: dict[str, int]
    unacked: int
    interactions: int
    embeddings: int = 0  # live entries of the embedding cache


class MetricsStore:
    """Adds what the workers did to Redis, and reads it all back for a scrape."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._count_crashes = redis.register_script(COUNT_CRASHES)

    @_never_raises
    def stage_finished(self, stage: str, seconds: float) -> None:
        """Count one finished run of stage that took seconds."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(keys.METRICS_STAGE_SECONDS, f"{stage}|{bucket_of(seconds)}", 1)
        pipe.hincrbyfloat(keys.METRICS_STAGE_SECONDS, f"{stage}|sum", seconds)
        pipe.execute()

    @_never_raises
    def stage_retried(self, stage: str, reason: str) -> None:
        """Count one re-queue of a stage task, for reason (one of RETRY_REASONS)."""
        self.redis.hincrby(keys.METRICS_STAGE_RETRIES, f"{stage}|{reason}", 1)

    @_never_raises
    def stage_crashes_seen(self, jid: str, stage: str, crashes: int) -> None:
        """Count the crashes of a job's stage that a new start sees and none counted yet."""
        if crashes > 0:
            self._count_crashes(
                keys=[keys.job_deliveries(jid), keys.METRICS_STAGE_CRASHES], args=[stage, crashes]
            )

    @_never_raises
    def epochs_trained(self, epochs: int, seconds: float) -> None:
        """Count epochs trained in seconds of training, and keep their rate as the last one."""
        if epochs <= 0:
            return
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(keys.METRICS_TRAINING, "epochs", epochs)
        pipe.hincrbyfloat(keys.METRICS_TRAINING, "epoch_seconds", seconds)
        if seconds > 0:
            pipe.hset(keys.METRICS_TRAINING, "last_epochs_per_second", epochs / seconds)
        pipe.execute()

    def read(self) -> Snapshot:
        """Read every pipeline metric in one round trip (RedisError when Redis fails)."""
        projects = {keys.DEFAULT_PROJECT, *self.redis.smembers(keys.PROJECTS)}
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.METRICS_STAGE_SECONDS).hgetall(keys.METRICS_STAGE_RETRIES)
        pipe.hgetall(keys.METRICS_STAGE_CRASHES).hgetall(keys.METRICS_TRAINING)
        for status in contracts.STATUSES:
            pipe.zcard(keys.job_status_index(status))
        for queue in QUEUES:
            for name in queue_lists(queue):
                pipe.llen(name)
        pipe.hlen(keys.KOMBU_UNACKED)
        pipe.zcount(keys.EMBEDDING_INDEX, f"({int(time.time())}", "+inf")
        for project in projects:  # every project's interactions, summed
            pipe.zcard(keys.Space(project).interactions)
        seconds, retries, crashes, training, *rest = pipe.execute()
        interactions = sum(rest[-len(projects) :])
        rest = rest[: -len(projects)]
        statuses, rest = rest[: len(contracts.STATUSES)], rest[len(contracts.STATUSES) :]
        per_queue = len(KOMBU_PRIORITY_STEPS)
        depths = {q: sum(rest[i * per_queue : (i + 1) * per_queue]) for i, q in enumerate(QUEUES)}
        unacked, embeddings = rest[-2:]
        last_rate = training.get("last_epochs_per_second")
        return Snapshot(
            jobs_by_status=dict(zip(contracts.STATUSES, map(int, statuses), strict=True)),
            stage_seconds=_histograms(seconds),
            stage_retries={_stage_and(k): int(v) for k, v in retries.items()},
            stage_crashes={k: int(v) for k, v in crashes.items()},
            epochs=int(training.get("epochs", 0)),
            epoch_seconds=float(training.get("epoch_seconds", 0.0)),
            last_epochs_per_second=float(last_rate) if last_rate is not None else None,
            queue_depth=depths,
            unacked=int(unacked),
            interactions=int(interactions),
            embeddings=int(embeddings),
        )


def _histograms(fields: Mapping[str, str]) -> dict[str, Histogram]:
    """Return each stage's histogram from the hash of "{stage}|{le}" and "{stage}|sum" fields."""
    counts: dict[str, dict[str, int]] = {}
    sums: dict[str, float] = {}
    for field, value in fields.items():
        stage, name = _stage_and(field)
        if name == "sum":
            sums[stage] = float(value)
        else:
            counts.setdefault(stage, {})[name] = int(value)
    return {
        stage: Histogram(cumulative(counts.get(stage, {})), sums.get(stage, 0.0))
        for stage in sorted(counts.keys() | sums.keys())
    }


def _stage_and(field: str) -> tuple[str, str]:
    """Split a "{stage}|{name}" field."""
    stage, _, name = field.rpartition("|")
    return stage, name
