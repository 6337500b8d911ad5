"""Stage starts and ends are counted once per token, even when a command is sent twice."""

import pytest

from tuneloop.errors import StageNotReady
from tuneloop.pipeline.runner import run_stage, work_of
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.store import Store, keys
from tuneloop.store.leases import holder_id

from .support import STAGES, Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def store(stack: Stack) -> Store:
    return Store.from_url(stack.redis_url)


def _job(store: Store) -> str:
    """A job stored, never queued (no worker runs it)."""
    return store.jobs.create({"training_file": "none"}, 0, len(STAGES))["id"]


def test_a_start_sent_twice_counts_once(store: Store) -> None:
    jid = _job(store)
    assert store.deliveries.start(jid, "fine_tune", "a") == (1, 0)
    assert store.deliveries.start(jid, "fine_tune", "a") == (1, 0)  # redis-py's retry
    store.jobs.delete(jid)


def test_an_end_sent_twice_counts_once_and_a_start_never_ended_is_a_crash(store: Store) -> None:
    jid = _job(store)
    store.deliveries.start(jid, "fine_tune", "a")
    store.deliveries.end(jid, "fine_tune", "a")
    store.deliveries.end(jid, "fine_tune", "a")  # redis-py's retry
    store.deliveries.start(jid, "fine_tune", "b")  # then dies: never ends
    assert store.deliveries.start(jid, "fine_tune", "c") == (3, 1)
    assert store.deliveries.start(jid, "collect", "d") == (1, 0)  # per stage
    store.jobs.delete(jid)


def test_a_stage_that_outlived_its_jobs_delete_counts_nothing_back(store: Store) -> None:
    jid = _job(store)
    store.jobs.delete(jid)
    assert store.deliveries.start(jid, "collect", "late") == (0, -1)
    store.deliveries.end(jid, "collect", "late")
    assert not store.redis.exists(keys.job_deliveries(jid))


def test_a_second_delivery_of_a_running_stage_waits_and_counts_no_start_or_crash(
    store: Store,
) -> None:
    """Both branches of a fork send the join: the one that finds it running is no crash."""
    request = JobInSchema().load({"lab_eval_set": True})
    job = store.jobs.create(request, store.interactions.last_seq(), len(STAGES))
    jid, stage, running = job["id"], "collect", holder_id()
    crashes_before = store.redis.hget(keys.METRICS_STAGE_CRASHES, stage)
    store.deliveries.start(jid, stage, running)  # the first delivery, still running
    with store.leases.hold(jid, stage, running), pytest.raises(StageNotReady) as waited:
        run_stage(store, jid, stage, work_of(stage))
    assert waited.value.lease_held
    counts = store.redis.hgetall(keys.job_deliveries(jid))
    assert counts.get(f"{stage}:started") == "1", counts
    assert store.redis.hget(keys.METRICS_STAGE_CRASHES, stage) == crashes_before
    store.cancel_job(jid)
