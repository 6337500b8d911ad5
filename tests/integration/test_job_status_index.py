"""Listing jobs by status reads that status's index, kept in step with every status change."""

from collections.abc import Iterator

import pytest

from tuneloop import contracts
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.store import Store, keys

from .support import ApiClient, Stack, reset_store

pytestmark = pytest.mark.integration


@pytest.fixture
def store(stack: Stack) -> Iterator[Store]:
    """The session's store, emptied; every job left open is cancelled at the end."""
    reset_store(stack)
    store = Store.from_url(stack.redis_url)
    yield store
    for jid in store.redis.zrange(keys.JOBS, 0, -1):  # the session's worker waits for these
        store.cancel_job(jid)


def new_job(store: Store) -> str:
    """Store a queued job (not sent to the workers) and return its id."""
    return store.jobs.create(JobInSchema().load({}), 0, 7)["id"]


def indexed(store: Store) -> dict[str, list[str]]:
    """Return each status index's members, oldest first."""
    return {s: store.redis.zrange(keys.job_status_index(s), 0, -1) for s in contracts.STATUSES}


def test_every_status_change_moves_the_job_to_its_status_index(store: Store) -> None:
    done, failed, cancelled, queued, pausing, paused = (new_job(store) for _ in range(6))
    assert indexed(store)[contracts.QUEUED] == [done, failed, cancelled, queued, pausing, paused]
    for jid in (done, failed, pausing):
        store.jobs.start_stage(jid, "collect")
    assert indexed(store)[contracts.RUNNING] == [done, failed, pausing]
    store.jobs.pause(pausing)  # running: pausing
    store.jobs.pause(paused)  # queued: paused at once
    store.jobs.pause(cancelled)
    assert indexed(store)[contracts.PAUSED] == [cancelled, paused]
    store.jobs.succeed(done, {"model_id": "m"})
    store.jobs.fail(failed, "collect", "test", "failed on purpose")
    store.cancel_job(cancelled)
    store.jobs.succeed(cancelled, {"model_id": "late"})  # refused: the job has ended
    assert indexed(store) == {
        contracts.QUEUED: [queued],
        contracts.RUNNING: [],
        contracts.PAUSING: [pausing],
        contracts.PAUSED: [paused],
        contracts.SUCCEEDED: [done],
        contracts.FAILED: [failed],
        contracts.CANCELLED: [cancelled],
    }


def test_listing_by_status_reads_only_the_jobs_of_that_status(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(60):
        store.jobs.cancel(new_job(store))
    failed = new_job(store)
    store.jobs.fail(failed, "collect", "test", "failed on purpose")
    read: list[str] = []
    get = store.jobs.get
    monkeypatch.setattr(store.jobs, "get", lambda jid: read.append(jid) or get(jid))
    page, has_more = store.jobs.page(limit=20, status=contracts.FAILED)
    assert [j["id"] for j in page] == [failed] and not has_more
    assert read == [failed]


def test_the_api_lists_by_status_newest_first_with_a_cursor(
    store: Store, client: ApiClient
) -> None:
    ids = [new_job(store) for _ in range(5)]
    for jid in ids[::2]:
        store.jobs.fail(jid, "collect", "test", "failed on purpose")
    first = client.get("/v1/jobs", params={"status": "failed", "limit": 2}).json()
    assert [j["id"] for j in first["data"]] == [ids[4], ids[2]] and first["has_more"]
    rest = client.get("/v1/jobs", params={"status": "failed", "limit": 2, "after": ids[2]}).json()
    assert [j["id"] for j in rest["data"]] == [ids[0]] and not rest["has_more"]


def test_jobs_stored_before_the_index_existed_are_indexed_on_first_use(store: Store) -> None:
    ids = [new_job(store) for _ in range(3)]
    store.jobs.fail(ids[1], "collect", "test", "failed on purpose")
    store.redis.delete(
        keys.JOB_STATUS_INDEXED, *(keys.job_status_index(s) for s in contracts.STATUSES)
    )
    page, _ = store.jobs.page(limit=10, status=contracts.QUEUED)
    assert [j["id"] for j in page] == [ids[2], ids[0]]
    assert indexed(store)[contracts.FAILED] == [ids[1]]
