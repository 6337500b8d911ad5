"""Deleting a job and letting a failed one's bulk data expire, in the store (Lua in a real Redis).

A private redis-server of this module's own (no worker, no gateway): jobs are written as their
stages write them (events, steps, deliveries, artifacts and blobs, cases, parts, a file link),
so every key a job's id names exists before it is deleted.
"""

import json
from collections.abc import Iterator

import pytest
from redis import Redis

from tuneloop import contracts
from tuneloop.pipeline.fine_tune import model_id_for
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.store import Store, keys
from tuneloop.store.artifacts import HELD_OUT
from tuneloop.store.job_delete import JobActiveError, JobStageRunningError
from tuneloop.timeutil import now

from .support import private_stack

pytestmark = pytest.mark.integration

TTL = 3600  # the module's TUNELOOP_FAILED_JOB_TTL
OWNER = "retention-tests"
STAGE = "fine_tune"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A private redis-server for this module."""
    with private_stack("tuneloop-retention-") as stack:
        yield stack.start_redis(appendfsync=None)


@pytest.fixture
def store(redis_url: str) -> Iterator[Store]:
    """A store on an emptied Redis, blobs cut in 1 KiB chunks (so a blob has several)."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    redis.flushdb()
    built = Store(redis, failed_job_ttl=TTL)
    built.blobs.chunk_bytes = 1024
    yield built
    redis.close()


def eval_cases(n: int) -> list[dict]:
    """n eval cases."""
    return [{"input": f"is it sunny in city {i}?", "expected_type": "weather"} for i in range(n)]


def stored_job(store: Store, n_cases: int = 200) -> str:
    """A job as its stages leave it: every kind of key its id names, and a file it uses."""
    writer = store.files.writer()
    writer.write(b'{"messages": []}\n')
    upload = store.files.add("train.jsonl", "fine-tune", writer)
    request = JobInSchema().load({"eval_set": eval_cases(n_cases)})
    request["training_file"] = upload["id"]
    jid = store.jobs.create(request, 0, 8, owner=OWNER)["id"]
    assert store.files.use(upload["id"], jid)
    store.jobs.start_stage(jid, "collect")
    store.jobs.add_event(jid, "collect:started", "stage.started", "collect started")
    store.jobs.complete_step(jid, "collect")
    store.deliveries.start(jid, "collect", "token")
    store.deliveries.end(jid, "collect", "token")
    store.artifacts.put(jid, "plan", {"parts": 2})
    store.artifacts.put_blob(jid, "kept", bytes(5000))  # the mask: a blob of 5 chunks
    store.artifacts.put_blob(jid, HELD_OUT, bytes(100))
    store.artifacts.put_blob(jid, "checkpoint", bytes(3000))
    store.cases.replace(jid, [("regressed", {"index": 0, "input": "x"})], writer="w")
    store.parts.mark_done(jid, "embed", 0, 2, {"index": 0})
    store.redis.hset(keys.SWEEP_SUSPECTS, jid, now())
    return jid


def named_keys(store: Store, jid: str) -> list[str]:
    """Every key whose name holds the job's id (SCAN)."""
    return sorted(store.redis.scan_iter(match=f"*{jid}*", count=1000))


def memberships(store: Store, jid: str, fid: str) -> dict[str, bool]:
    """Where the job's id is a member of a key its id does not name."""
    found = {
        "job list": store.redis.zscore(keys.JOBS, jid) is not None,
        "owner index": store.redis.zscore(keys.jobs_of_owner(OWNER), jid) is not None,
        "file's jobs": bool(store.redis.sismember(keys.file_jobs(fid), jid)),
        "sweeper suspects": bool(store.redis.hexists(keys.SWEEP_SUSPECTS, jid)),
    }
    for status in contracts.STATUSES:
        index = keys.job_status_index(status)
        found[f"{status} index"] = store.redis.zscore(index, jid) is not None
    return {where: True for where, member in found.items() if member}


def test_deleting_an_ended_job_leaves_no_key_its_id_names_and_no_index_entry(
    store: Store,
) -> None:
    jid = stored_job(store)
    fid = store.jobs.get(jid)["request"]["training_file"]
    store.jobs.fail(jid, "compare", "test", "ended by the test")
    store.release_ended_job(jid)
    before = named_keys(store, jid)
    assert len(before) >= 15, before  # hash, events, steps, eval set, blobs and their chunks...
    assert store.jobs.delete_ended(jid) == "fine_tuning.job"
    print(f"\nkeys named by the job's id: {len(before)} before its delete, 0 after")
    assert named_keys(store, jid) == []
    assert memberships(store, jid, fid) == {}
    assert store.files.get(fid) is not None  # the file stays; only its link to the job goes
    assert store.jobs.get(jid) is None and store.jobs.read(jid) is None
    assert store.jobs.delete_ended(jid) is None  # a second delete finds nothing


def test_a_queued_or_running_job_is_not_deleted_and_loses_nothing(store: Store) -> None:
    jid = stored_job(store)
    before = named_keys(store, jid)
    with pytest.raises(JobActiveError) as refused:
        store.jobs.delete_ended(jid)
    assert refused.value.status == contracts.RUNNING
    assert named_keys(store, jid) == before


def test_an_ended_job_whose_stage_still_holds_its_lease_is_not_deleted(store: Store) -> None:
    jid = stored_job(store)
    store.leases.acquire(jid, STAGE, "worker|1|still-stopping")
    store.cancel_job(jid)
    before = named_keys(store, jid)
    with pytest.raises(JobStageRunningError) as refused:
        store.jobs.delete_ended(jid)
    assert refused.value.stage == STAGE
    assert named_keys(store, jid) == before
    store.redis.delete(keys.lease(jid, STAGE))  # the stage stopped
    assert store.jobs.delete_ended(jid) == "fine_tuning.job"
    assert named_keys(store, jid) == []


def test_the_model_a_deleted_job_published_stays_with_its_job_id(store: Store) -> None:
    job = store.jobs.create(JobInSchema().load({}), 0, 8)
    jid, mid = job["id"], model_id_for(job)
    store.jobs.start_stage(jid, STAGE)
    holder = "worker|1|fine-tune"
    store.leases.acquire(jid, STAGE, holder)
    meta = {"id": mid, "object": "model", "created_at": now(), "job_id": jid, "format": "t"}
    assert store.models.publish(meta, bytes(3000), jid, keys.lease(jid, STAGE), holder) == 1
    store.jobs.succeed(jid, {"model_id": mid})
    store.redis.delete(keys.lease(jid, STAGE))
    assert store.jobs.delete_ended(jid) == "fine_tuning.job"
    assert store.models.meta(mid) == meta  # still naming its job, which is gone
    assert store.models.payload(mid) == bytes(3000)
    assert [m["id"] for m in store.models.list()] == [mid]


def test_a_stage_that_outlived_its_jobs_delete_writes_nothing_back(store: Store) -> None:
    jid = stored_job(store)
    store.cancel_job(jid)
    store.jobs.delete_ended(jid)
    store.jobs.add_event(jid, "fine_tune:finished", "stage.finished", "late")
    assert store.deliveries.start(jid, STAGE, "late") == (0, -1)
    store.deliveries.end(jid, STAGE, "late")
    assert store.parts.mark_done(jid, "embed", 1, 2, {}).added is False
    store.release_ended_job(jid)
    assert named_keys(store, jid) == []


def expires_at(store: Store, key: str) -> int:
    """The Unix time key expires at: -1 never, -2 no such key."""
    return int(store.redis.execute_command("EXPIRETIME", key))


def bulk_keys(jid: str) -> list[str]:
    """The failed job's bulk data: eval set, cases, and the kept mask with its index."""
    return [
        keys.job_eval_set(jid),
        keys.job_cases(jid, "regressed"),
        keys.artifact(jid, "kept"),
        keys.artifact(jid, HELD_OUT),
        keys.job_artifacts(jid),
    ]


def test_a_failed_job_lets_its_eval_set_and_cases_expire_in_the_step_that_ends_it(
    store: Store,
) -> None:
    jid = stored_job(store)
    assert store.jobs.fail(jid, "compare", "test", "ended by the test")
    end = store.jobs.get(jid)["finished_at"]
    assert expires_at(store, keys.job_eval_set(jid)) == end + TTL
    assert expires_at(store, keys.job_cases(jid, "regressed")) == end + TTL
    assert expires_at(store, keys.job(jid)) == -1  # the record stays until deleted
    assert expires_at(store, keys.job_events(jid)) == -1


def test_a_cancelled_job_lets_its_eval_set_expire_in_the_step_that_cancels_it(
    store: Store,
) -> None:
    jid = stored_job(store)
    assert store.cancel_job(jid)
    end = store.jobs.get(jid)["finished_at"]
    assert expires_at(store, keys.job_eval_set(jid)) == end + TTL


def test_a_failed_jobs_mask_expires_with_its_eval_set_and_later_bulk_too(store: Store) -> None:
    jid = stored_job(store)
    store.jobs.fail(jid, "compare", "test", "ended by the test")
    end = store.jobs.get(jid)["finished_at"]
    store.cases.replace(jid, [("regressed", {"index": 1})], writer="late")  # a late compare
    store.release_ended_job(jid)
    store.release_ended_job(jid)  # once more (a late message): the time does not move
    expiry = {key: expires_at(store, key) for key in bulk_keys(jid)}
    assert expiry == dict.fromkeys(bulk_keys(jid), end + TTL)
    mask = store.redis.get(keys.artifact(jid, "kept"))
    assert mask is not None
    for chunk in json.loads(mask)["chunks"]:
        assert expires_at(store, chunk) == end + TTL
    assert store.artifacts.get_blob(jid, "checkpoint") is None  # intermediates freed at once


def test_a_succeeded_job_keeps_its_eval_set_and_mask(store: Store) -> None:
    jid = stored_job(store)
    store.jobs.succeed(jid, {"model_id": None})
    store.release_ended_job(jid)
    assert {key: expires_at(store, key) for key in bulk_keys(jid)} == dict.fromkeys(
        bulk_keys(jid), -1
    )


def test_a_ttl_of_zero_keeps_a_failed_jobs_bulk_data(store: Store) -> None:
    keeping = Store(store.redis, failed_job_ttl=0)
    jid = stored_job(keeping)
    keeping.jobs.fail(jid, "compare", "test", "ended by the test")
    keeping.release_ended_job(jid)
    assert {key: expires_at(store, key) for key in bulk_keys(jid)} == dict.fromkeys(
        bulk_keys(jid), -1
    )


def test_jobs_that_ended_before_expiry_existed_get_it_from_their_end_once(store: Store) -> None:
    keeping = Store(store.redis, failed_job_ttl=0)  # the old code: no expiry at the end
    failed, cancelled, succeeded = (stored_job(keeping) for _ in range(3))
    keeping.jobs.fail(failed, "compare", "test", "ended by the test")
    keeping.cancel_job(cancelled)
    keeping.jobs.succeed(succeeded, {"model_id": None})
    for jid in (failed, cancelled, succeeded):
        keeping.release_ended_job(jid)
    assert store.expire_ended_jobs_once() == 2
    for jid in (failed, cancelled):
        end = store.jobs.get(jid)["finished_at"] + TTL
        assert {key: expires_at(store, key) for key in bulk_keys(jid)} == dict.fromkeys(
            bulk_keys(jid), end
        )
    assert {expires_at(store, key) for key in bulk_keys(succeeded)} == {-1}
    assert store.expire_ended_jobs_once() == 0  # once per Redis


def test_a_failed_job_whose_eval_set_expired_reads_with_its_size_and_null_cases(
    store: Store,
) -> None:
    jid = stored_job(store, n_cases=30)
    store.jobs.fail(jid, "compare", "test", "ended by the test")
    assert len(store.jobs.get(jid, eval_set=True)["request"]["eval_set"]) == 30
    store.redis.delete(keys.job_eval_set(jid))  # as its expiry does
    request = store.jobs.get(jid, eval_set=True)["request"]
    assert request["eval_set"] is None and request["eval_set_size"] == 30
