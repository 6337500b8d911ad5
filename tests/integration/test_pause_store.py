"""The pause's store steps, in the session's real Redis (Lua): who starts, who settles, who counts.

Jobs here are stored and moved by the store alone (never queued), and deleted at the end.
"""

import secrets
from collections.abc import Iterator

import pytest

from tuneloop import contracts
from tuneloop.errors import JobPaused, StageNotReady, StagePaused, StageSkipped
from tuneloop.pipeline import fanout
from tuneloop.pipeline.runner import Limits, StageWork, run_stage
from tuneloop.store import Store, job_keys, keys
from tuneloop.store.jobs import Quota, QuotaExceeded
from tuneloop.store.parts import plan_name

from .support import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def store(stack: Stack) -> Iterator[Store]:
    """A store on the session's Redis; every job a test made is deleted after it."""
    made = Store(stack.store.redis)
    before = set(made.redis.zrange(keys.JOBS, 0, -1))
    yield made
    for jid in set(made.redis.zrange(keys.JOBS, 0, -1)) - before:
        made.redis.delete(*job_keys.leases(jid))  # a test that failed may have left one
        made.jobs.delete(jid)


NO_QUOTA = Quota()


def new_job(store: Store, owner: str = "", quota: Quota = NO_QUOTA) -> str:
    """Store a queued job (never queued on the broker); return its id."""
    return store.jobs.create({"hyperparameters": {}}, None, 9, owner, quota)["id"]


def running(store: Store, stage: str = "fine_tune") -> str:
    """Store a job running in stage; return its id."""
    jid = new_job(store)
    assert store.jobs.start_stage(jid, stage) == "started"
    return jid


def events(store: Store, jid: str) -> list[tuple[str, str]]:
    """The job's events' types and messages."""
    return [(e["type"], e["message"]) for e in store.jobs.events(jid, limit=100)[0]]


def test_a_paused_job_counts_toward_the_active_quota_and_holds_its_snapshot(store: Store) -> None:
    owner, quota = f"pause-quota-{secrets.token_hex(4)}", Quota(max_active=1)
    paused = new_job(store, owner, quota)
    assert store.jobs.pause(paused).status == contracts.PAUSED
    with pytest.raises(QuotaExceeded) as refused:
        new_job(store, owner, quota)
    assert refused.value.kind == "active"
    snapshot = store.jobs.get(paused)["snapshot_seq"]
    assert snapshot in store.jobs.active_snapshots()
    store.cancel_job(paused)
    new_job(store, owner, quota)  # a cancelled one no longer counts


def test_no_stage_starts_while_a_pause_halts_the_job_and_its_resume_lets_one_start(
    store: Store,
) -> None:
    jid = new_job(store)
    assert store.jobs.pause(jid).status == contracts.PAUSED  # queued: paused at once
    assert store.jobs.start_stage(jid, "collect") == "halted"
    assert store.jobs.get(jid)["started_at"] is None
    assert store.jobs.resume(jid).status == contracts.QUEUED
    assert store.jobs.start_stage(jid, "collect") == "started"
    assert store.jobs.pause(jid).status == contracts.PAUSING  # running: pausing
    assert store.jobs.pause(jid).outcome == "same"  # asked again: nothing changes
    assert store.jobs.start_stage(jid, "filter") == "halted"
    assert store.jobs.resume(jid).status == contracts.RUNNING  # the pause is withdrawn
    assert store.jobs.resume(jid).outcome == "same"
    assert store.jobs.get(jid)["stage"] == "collect"
    assert [t for t, _ in events(store, jid)] == [
        "job.paused",
        "job.resumed",
        "job.pausing",
        "job.resumed",
    ]
    store.jobs.fail(jid, "collect", "test", "ended by the test")
    assert (store.jobs.pause(jid).outcome, store.jobs.resume(jid).outcome) == ("ended", "ended")


def test_a_pausing_job_settles_paused_only_once_no_lease_is_held_and_no_part_is_in_flight(
    store: Store,
) -> None:
    jid = running(store)
    assert store.jobs.pause(jid).status == contracts.PAUSING
    store.redis.set(keys.lease(jid, "evaluate_baseline"), "another runner")
    assert store.jobs.settle_pause(jid, "stopped at fine_tune") == "carried"  # a stage runs
    store.redis.delete(keys.lease(jid, "evaluate_baseline"))
    store.artifacts.put(jid, plan_name("embed"), {"parts": 2})
    store.parts.mark_done(jid, "embed", 0, 2, {})
    assert store.jobs.settle_pause(jid, "stopped at fine_tune") == "carried"  # a part runs
    assert store.jobs.status(jid) == contracts.PAUSING
    store.parts.mark_done(jid, "embed", 1, 2, {})  # the last part: embed is done
    assert store.jobs.settle_pause(jid, "stopped at fine_tune") == "settled"
    assert store.jobs.status(jid) == contracts.PAUSED
    assert store.jobs.settle_pause(jid, "again") == "carried"  # paused already: once
    assert events(store, jid)[-1] == ("job.paused", "job paused: stopped at fine_tune")
    assert store.redis.zscore(keys.job_status_index(contracts.PAUSED), jid) is not None
    assert store.redis.zscore(keys.job_status_index(contracts.PAUSING), jid) is None


def test_the_sweeper_settles_without_the_parts_check(store: Store) -> None:
    jid = running(store)
    store.jobs.pause(jid)
    store.artifacts.put(jid, plan_name("embed"), {"parts": 2})  # parts lost with their messages
    assert store.jobs.settle_pause(jid, "its runner was gone", check_parts=False) == "settled"


def test_an_epoch_recorded_while_pausing_is_recorded_and_says_to_stop(store: Store) -> None:
    jid = running(store)
    store.redis.set(keys.lease(jid, "fine_tune"), "me")
    row = {"epoch": 1, "train_loss": 0.5, "valid_loss": None}
    assert store.jobs.record_step_if_held(jid, "fine_tune", "me", "epoch:1", "m", row) == 1
    store.jobs.pause(jid)
    row = {**row, "epoch": 2}
    assert store.jobs.record_step_if_held(jid, "fine_tune", "me", "epoch:2", "m", row) == 2
    assert store.jobs.steps_done(jid) == {"epoch:1", "epoch:2"}
    store.redis.delete(keys.lease(jid, "fine_tune"))


def test_a_part_of_a_pausing_job_runs_and_one_of_a_paused_job_does_not(store: Store) -> None:
    jid = running(store, "embed")
    store.jobs.pause(jid)
    with pytest.raises(StageSkipped, match="has no part 0"):  # it would run: it has no plan
        fanout.run_part(store, jid, "embed", 0, Limits())
    assert store.jobs.settle_pause(jid, "stopped at embed") == "settled"
    with pytest.raises(StageSkipped, match="is paused"):
        fanout.run_part(store, jid, "embed", 0, Limits())


def stop_at_a_pause(withdraw: bool) -> StageWork:
    """A stage's work that sees its job pausing and stops there (after the pause is withdrawn,
    with withdraw: the runner had decided to stop just before)."""

    def work(store: Store, job: dict, limits: Limits) -> None:
        store.jobs.pause(job["id"])
        if withdraw:
            store.jobs.resume(job["id"])
        raise JobPaused(job["id"])

    return work


def test_a_stage_stopped_at_a_pause_ends_without_being_done_or_counted_a_crash(
    store: Store,
) -> None:
    jid = new_job(store)
    with pytest.raises(StagePaused):
        run_stage(store, jid, "collect", stop_at_a_pause(withdraw=False), Limits())
    assert store.jobs.status(jid) == contracts.PAUSED
    assert "collect" not in store.jobs.steps_done(jid)
    counts = store.redis.hgetall(keys.job_deliveries(jid))
    assert counts["collect:started"] == counts["collect:ended"] == "1", counts


def test_a_stage_that_stopped_as_its_pause_was_withdrawn_runs_again(store: Store) -> None:
    jid = new_job(store)
    with pytest.raises(StageNotReady, match="withdrawn"):  # its task is sent again
        run_stage(store, jid, "collect", stop_at_a_pause(withdraw=True), Limits())
    assert store.jobs.status(jid) == contracts.RUNNING
    assert "collect" not in store.jobs.steps_done(jid)
