"""A bad day for Redis mid fine-tune: it fills up, or it restarts again and again.

Each scenario runs its own redis-server (append-only file, appendfsync always), one worker
whose epochs are slowed down, and a gateway. The worker must outlive the fault, the job must
finish once Redis is back, and an outage must not be counted as a crash of the stage.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tuneloop import contracts
from tuneloop.store import keys

from .support import (
    SLOW_EPOCHS,
    Stack,
    client_for,
    create_job,
    describe_job,
    events_of,
    fault_stack,
    report_recovery,
    seed_interactions,
    wait_ended,
    wait_for_epochs,
    wait_until,
)

pytestmark = pytest.mark.integration

N_EPOCHS = 30  # at 0.3 s each: the faults below all land inside fine_tune
FULL_FOR = 6.0  # seconds Redis stays at maxmemory
OUTAGES, DOWN_FOR = 3, 4.0  # restarts of Redis during fine_tune, and seconds down each time
RECOVERY_TIMEOUT = 90.0


def _pids(stack: Stack) -> dict[str, int]:
    return {p.name: p.pid for p in stack.procs if p.name != "redis" and p.alive()}


@dataclass
class Day:
    """What a scenario saw; the tests judge it."""

    stack: Stack
    job_id: str
    pids_before: dict[str, int]
    pids_after: dict[str, int]
    job: dict
    recovered_after: float
    reads_during: list[int]


def _wait_ended(stack: Stack, job_id: str) -> tuple[dict, float]:
    """Wait for the job to end; return it and the seconds that took."""
    began = time.monotonic()
    job = wait_ended(stack, job_id, RECOVERY_TIMEOUT)
    return job, time.monotonic() - began


@pytest.fixture(scope="module")
def full() -> Iterator[Day]:
    """Set maxmemory to what Redis uses mid fine-tune, hold it FULL_FOR s, then lift it."""
    with fault_stack(appendfsync="always", workers=[("w1", SLOW_EPOCHS)]) as stack:
        with client_for(stack) as client:
            seed_interactions(client)
            job_id = create_job(client, N_EPOCHS)
            wait_for_epochs(stack, job_id, 2)
            before = _pids(stack)
            probe = stack.probe()
            probe.config_set("maxmemory-policy", "noeviction")
            probe.config_set("maxmemory", probe.info("memory")["used_memory"])
            reads, ended_full = [], time.monotonic() + FULL_FOR
            while time.monotonic() < ended_full:
                reads.append(client.get(f"/v1/jobs/{job_id}").status_code)
                time.sleep(0.5)
            probe.config_set("maxmemory", 0)
            probe.close()
            job, after = _wait_ended(stack, job_id)
        report_recovery(
            f"Redis at maxmemory for {FULL_FOR:g} s mid fine-tune, lifted -> job {job['status']}",
            after,
        )
        yield Day(stack, job_id, before, _pids(stack), job, after, reads)


@pytest.fixture(scope="module")
def restarts() -> Iterator[Day]:
    """Stop Redis OUTAGES times during fine_tune, DOWN_FOR s each, then let the job end."""
    with fault_stack(appendfsync="always", workers=[("w1", SLOW_EPOCHS)]) as stack:
        with client_for(stack) as client:
            seed_interactions(client)
            job_id = create_job(client, N_EPOCHS)
        before = _pids(stack)
        for n in range(OUTAGES):
            wait_for_epochs(stack, job_id, 2 + 3 * n)
            stack.stop_redis()
            time.sleep(DOWN_FOR)
            stack.start_redis()
        job, after = _wait_ended(stack, job_id)
        report_recovery(
            f"{OUTAGES} Redis restarts ({DOWN_FOR:g} s down each) mid fine-tune, "
            f"last restart -> job {job['status']}",
            after,
        )
        yield Day(stack, job_id, before, _pids(stack), job, after, [])


def test_a_worker_outlives_a_full_redis(full: Day) -> None:
    assert full.pids_after == full.pids_before, full.stack.logs(60)
    assert "Unrecoverable error" not in full.stack.log_text("w1")


def test_reads_answer_while_redis_is_full(full: Day) -> None:
    assert full.reads_during and set(full.reads_during) == {200}, full.reads_during


def test_the_job_finishes_once_the_limit_is_lifted(full: Day) -> None:
    assert full.job["status"] == contracts.SUCCEEDED, describe_job(full.stack, full.job_id)
    assert full.job["model_id"]


def test_repeated_redis_restarts_do_not_fail_a_healthy_job(restarts: Day) -> None:
    assert restarts.job["status"] == contracts.SUCCEEDED, describe_job(
        restarts.stack, restarts.job_id
    )
    assert restarts.pids_after == restarts.pids_before, restarts.stack.logs(60)


def test_an_outage_is_not_counted_as_a_crash(restarts: Day) -> None:
    redis = restarts.stack.store.redis

    def never_ended() -> dict[str, int]:
        counts = redis.hgetall(keys.job_deliveries(restarts.job_id))
        started = {
            k.removesuffix(":started"): int(v) for k, v in counts.items() if k.endswith(":started")
        }
        return {s: n - int(counts.get(f"{s}:ended", 0)) for s, n in started.items()}

    # A duplicate delivery (restored when the worker's channel dropped) may still be between
    # its start and its end when the job ends: wait for it. A crash never ends.
    wait_until(
        lambda: set(never_ended().values()) == {0},
        20.0,
        lambda: (
            f"every start to end: {never_ended()} {describe_job(restarts.stack, restarts.job_id)}"
        ),
        interval=0.2,
    )
    events = events_of(restarts.stack, restarts.job_id)
    assert not [e for e in events if e["type"] == "job.failed"], events
