"""Stages that fail: transient errors retry with backoff, deterministic ones fail the job at once,
a stage that kills its process every time is given up after a capped number of deliveries, and
a finished job answers from its own record after Celery's results are gone.

Each fault gets its own stack whose worker has the failpoints it needs (TUNELOOP_FAILPOINTS,
read by the worker at start-up); the two transient-error tests share one run.
"""

import itertools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest

from tuneloop import contracts

from .support import (
    Stack,
    all_events,
    client_for,
    create_job,
    deliveries,
    describe_job,
    fault_stack,
    report_recovery,
    seed_interactions,
    stages_started,
    wait_for_job,
    wait_until,
    worker_idle,
)

pytestmark = pytest.mark.integration

# The stage tasks retry Redis connection errors with retry_backoff=1, no jitter: 1 s, 2 s, ...
BACKOFF = (1.0, 2.0)
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def _log_times(log: str, *needles: str) -> list[float]:
    """The times of the worker log lines that contain every needle."""
    times = []
    for line in log.splitlines():
        match = LOG_TIME.match(line)
        if match and all(n in line for n in needles):
            times.append(datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f").timestamp())
    return times


def _wait_idle(stack: Stack, job_id: str) -> None:
    """Wait until nothing is queued or held and no job is unfinished."""
    wait_until(lambda: worker_idle(stack), 30.0, lambda: f"idle: {describe_job(stack, job_id)}")


@dataclass
class TransientRun:
    """A job whose collect raises a Redis ConnectionError on its first two deliveries."""

    stack: Stack
    job_id: str
    created: float
    settled_after: float


@pytest.fixture(scope="module")
def transient_run() -> Iterator[TransientRun]:
    """Run the job until it ends, or until collect is delivered a 4th time (not recovering)."""
    with fault_stack(workers=[("w1", "collect=transient:2")]) as stack, client_for(stack) as client:
        seed_interactions(client)
        created = time.monotonic()
        job_id = create_job(client, 2)

        def settled() -> bool:
            job = stack.store.jobs.get(job_id)
            return job["status"] in contracts.TERMINAL or job["deliveries"].get("collect", 0) > 3

        wait_until(settled, 30.0, lambda: describe_job(stack, job_id), interval=0.05)
        yield TransientRun(stack, job_id, created, time.monotonic() - created)


def test_a_transient_connection_error_in_collect_is_retried_with_exponential_backoff(
    transient_run: TransientRun,
) -> None:
    stack, job_id = transient_run.stack, transient_run.job_id
    assert deliveries(stack, job_id)["collect"] >= 3, describe_job(stack, job_id)
    job = stack.store.jobs.get(job_id)
    assert job["status"] != contracts.FAILED, job  # a transient error does not fail the job
    log = stack.log_text("w1")
    # Celery logs each failed delivery as "retry: Retry in Ns"; the next one runs N s later.
    retries = _log_times(log, "Task tuneloop.stages.collect[", "retry: Retry in")
    assert len(retries) >= 2, log[-3000:]
    gaps = [b - a for a, b in itertools.pairwise(retries)]
    assert all(gap >= wait - 0.1 for gap, wait in zip(gaps, BACKOFF, strict=False)), gaps
    assert "retry: Retry in 1s" in log and "retry: Retry in 2s" in log, log[-3000:]


def test_after_two_transient_errors_collect_succeeds_on_its_third_delivery(
    transient_run: TransientRun,
) -> None:
    stack, job_id = transient_run.stack, transient_run.job_id
    assert deliveries(stack, job_id)["collect"] == 3, describe_job(stack, job_id)
    with client_for(stack) as client:
        job = wait_for_job(client, stack, job_id, timeout=30.0)
    report_recovery(
        "transient connection error in collect (2 deliveries)",
        transient_run.settled_after,
        "job created -> job succeeded, backoff 1 s + 2 s included",
    )
    assert job["status"] == contracts.SUCCEEDED


def test_a_deterministic_error_in_prepare_fails_the_job_at_once_and_runs_no_later_stage() -> None:
    with fault_stack(workers=[("w1", "prepare=error")]) as stack, client_for(stack) as client:
        seed_interactions(client)
        created = time.monotonic()
        job_id = create_job(client, 2)
        job = wait_for_job(client, stack, job_id, expect=contracts.FAILED, timeout=30.0)
        failed_after = time.monotonic() - created
        report_recovery("deterministic error in prepare", failed_after, "job created -> failed")
        assert job["error"]["stage"] == "prepare", job
        assert job["error"]["code"] == "stage_crashed", job
        assert "RuntimeError" in job["error"]["message"], job
        assert job["stage"] == "prepare"
        _wait_idle(stack, job_id)
        events = all_events(client, job_id)
        later = set(contracts.STAGES[contracts.STAGES.index("prepare") + 1 :])
        assert not later & set(stages_started(events)), events
        assert not later & set(deliveries(stack, job_id)), deliveries(stack, job_id)
        assert deliveries(stack, job_id)["prepare"] == 1  # at once: no retry
        failures = [e for e in events if e["type"] == "job.failed"]
        assert [f["data"] for f in failures] == [{"stage": "prepare", "code": "stage_crashed"}]


MAX_CRASHES = 3


def test_a_stage_that_kills_its_process_every_time_is_given_up_after_capped_deliveries() -> None:
    with fault_stack(workers=()) as stack, client_for(stack) as client:
        env = {"TUNELOOP_MAX_CRASHES": str(MAX_CRASHES)}
        stack.start_worker("w1", "fine_tune=crash", env=env)
        seed_interactions(client)
        created = time.monotonic()
        job_id = create_job(client, 2)
        job = wait_for_job(client, stack, job_id, expect=contracts.FAILED, timeout=60.0)
        report_recovery(
            f"fine_tune crashing its process every delivery (cap {MAX_CRASHES})",
            time.monotonic() - created,
            "job created -> failed with stage_crashed_repeatedly",
        )
        assert job["error"]["code"] == "stage_crashed_repeatedly", job
        assert job["error"]["stage"] == "fine_tune", job
        assert f"died {MAX_CRASHES} times" in job["error"]["message"], job
        # Three deliveries died; the fourth found the count at the cap and ended the job.
        assert deliveries(stack, job_id)["fine_tune"] == MAX_CRASHES + 1, describe_job(
            stack, job_id
        )
        _wait_idle(stack, job_id)
        assert deliveries(stack, job_id)["fine_tune"] == MAX_CRASHES + 1
        running = [j for j in stack.store.jobs.page(limit=100)[0] if j["status"] == "running"]
        assert running == [], running
        events = all_events(client, job_id)
        assert "evaluate_fine_tuned" not in stages_started(events)
        assert "compare" not in stages_started(events)
        assert stack.proc("w1").alive(), stack.logs()


def test_stages_store_no_celery_results_and_a_finished_job_answers_from_its_record() -> None:
    with fault_stack() as stack, client_for(stack) as client:
        seed_interactions(client)
        job_id = create_job(client, 3)
        before = wait_for_job(client, stack, job_id, timeout=60.0)
        _wait_idle(stack, job_id)
        events_before = all_events(client, job_id)
        # Stage tasks ignore their results: a result Redis refuses cannot fail a done stage,
        # and nothing a job shows depends on Celery's result backend.
        assert not list(stack.store.redis.scan_iter(match="celery-task-meta-*", count=1000))
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        assert response.json() == before
        assert response.json()["result"]["model_id"] == before["model_id"]
        assert all_events(client, job_id) == events_before
        listed = client.get("/v1/jobs", params={"status": "succeeded"}).json()["data"]
        assert [j["id"] for j in listed] == [job_id]
