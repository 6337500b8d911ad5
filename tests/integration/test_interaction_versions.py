"""Interaction versions in Redis: a snapshot at S never changes, whatever is edited or deleted.

A private redis-server of this module's own (no worker, no gateway): the store alone.
"""

import random
import uuid
from collections.abc import Iterator

import pytest
from redis import Redis

from tuneloop.schemas.jobs import JobInSchema
from tuneloop.store import Store, keys
from tuneloop.store.interactions import MAX_EVENTS, SnapshotGoneError

from .support import private_stack

pytestmark = pytest.mark.integration

EVENT = {"type": "interaction.updated", "actor": "tests"}


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A private redis-server for this module."""
    with private_stack("tuneloop-versions-") as stack:
        yield stack.start_redis(appendfsync=None)


@pytest.fixture
def store(redis_url: str) -> Iterator[Store]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    redis.flushdb()
    yield Store(redis)
    redis.close()


def item(n: int, rating: float = 0.9, task: str = "weather") -> dict:
    return {"input": f"question {n}", "output": f"answer {n}", "rating": rating, "task_type": task}


def rows(store: Store, seq: int, batch: int = 500) -> list[tuple[str, float, str]]:
    """The snapshot at seq as (id, rating, task type), in the order it is read."""
    return [
        (r["id"], r["rating"], r["task_type"])
        for chunk in store.interactions.snapshot(seq, batch=batch)
        for r in chunk
    ]


def change(**fields: object):
    return lambda record: {**record, **fields}


def test_a_snapshot_keeps_the_versions_current_at_its_sequence_number(store: Store) -> None:
    a, b, c = store.interactions.add_many([item(1), item(2, 0.4), item(3)])
    before = store.interactions.last_seq()
    store.interactions.update(b["id"], change(rating=0.95, task_type="travel"), EVENT)
    store.interactions.delete(c["id"], EVENT)
    (d,) = store.interactions.add_many([item(4)])
    after = store.interactions.last_seq()

    assert rows(store, before) == [
        (a["id"], 0.9, "weather"),
        (b["id"], 0.4, "weather"),
        (c["id"], 0.9, "weather"),
    ]
    assert rows(store, after) == [
        (a["id"], 0.9, "weather"),
        (b["id"], 0.95, "travel"),
        (d["id"], 0.9, "weather"),
    ]
    assert store.interactions.snapshot_size(before) == 3
    assert store.interactions.snapshot_size(after) == 3
    assert store.interactions.get(c["id"]) is None
    assert store.interactions.get(b["id"])["updated_at"] is not None


def test_every_snapshot_of_a_random_history_reads_as_it_was_in_any_batch_size(
    store: Store,
) -> None:
    """Model check: after each write, remember the state; every snapshot must read it back."""
    rng = random.Random(7)
    live: dict[str, tuple[float, str]] = {}
    order: list[str] = []  # creation order
    states: dict[int, list[tuple[str, float, str]]] = {0: []}
    for step in range(150):
        op = rng.random()
        if op < 0.4 or not live:
            batch = [
                item(step * 10 + k, rng.choice([0.2, 0.5, 0.9])) for k in range(rng.randint(1, 4))
            ]
            for record in store.interactions.add_many(batch):
                live[record["id"]] = (record["rating"], record["task_type"])
                order.append(record["id"])
        elif op < 0.75:
            iid = rng.choice(sorted(live))
            rating, task = rng.choice([0.1, 0.6, 0.95]), rng.choice(["weather", "travel", "misc"])
            store.interactions.update(iid, change(rating=rating, task_type=task), EVENT)
            live[iid] = (rating, task)
        else:
            iid = rng.choice(sorted(live))
            assert store.interactions.delete(iid, EVENT)
            del live[iid]
        states[store.interactions.last_seq()] = [(i, *live[i]) for i in order if i in live]
    for seq, expected in states.items():
        assert store.interactions.snapshot_size(seq) == len(expected), seq
        for batch in (2, 500):
            assert rows(store, seq, batch) == expected, (seq, batch)


def test_stats_follow_edits_and_deletes(store: Store) -> None:
    a, b, c = store.interactions.add_many([item(1, 0.95), item(2, 0.45), item(3, 0.45, "misc")])
    store.interactions.update(a["id"], change(rating=0.15), EVENT)  # 0.9-1.0 -> 0.1-0.2
    store.interactions.update(b["id"], change(task_type="travel"), EVENT)  # weather -> travel
    store.interactions.delete(c["id"], EVENT)  # misc empties
    assert store.interactions.stats() == {
        "count": 2,
        "task_distribution": {"travel": 1, "weather": 1},
        "rating_histogram": {"0.1-0.2": 1, "0.4-0.5": 1},
    }
    assert store.interactions.page(10, task_type="travel")[0][0]["id"] == b["id"]
    assert store.interactions.page(10, task_type="weather")[0][0]["id"] == a["id"]
    assert store.interactions.page(10, task_type="misc")[0] == []


def test_an_edit_that_changes_nothing_writes_no_version(store: Store) -> None:
    (a,) = store.interactions.add_many([item(1)])
    seq = store.interactions.last_seq()
    assert store.interactions.update(a["id"], change(rating=0.9), EVENT) == a
    assert store.interactions.last_seq() == seq
    assert store.interactions.events(a["id"], 10) == ([], False)


def test_edits_of_a_missing_interaction_store_nothing(store: Store) -> None:
    assert store.interactions.update("int_missing", change(rating=0.1), EVENT) is None
    assert store.interactions.delete("int_missing", EVENT) is False
    assert store.interactions.last_seq() == 0


def test_versions_a_queued_job_holds_are_kept_until_it_ends(store: Store) -> None:
    a, b = store.interactions.add_many([item(1), item(2)])
    job = store.jobs.create(JobInSchema().load({}), None, 7)
    assert job["snapshot_seq"] == store.interactions.last_seq() == 2  # read as it was stored
    store.interactions.update(a["id"], change(rating=0.3), EVENT)
    store.interactions.delete(b["id"], EVENT)
    assert store.reclaim_versions() == 0
    assert rows(store, 2) == [(a["id"], 0.9, "weather"), (b["id"], 0.9, "weather")]

    assert store.cancel_job(job["id"])
    assert store.reclaim_versions() == 2
    assert store.interactions.versions_kept() == 0
    assert not store.redis.exists(keys.DEFAULT_SPACE.versions[3])
    assert rows(store, store.interactions.last_seq()) == [(a["id"], 0.3, "weather")]
    assert not store.interactions.snapshot_intact(2)
    assert store.interactions.snapshot_intact(0)  # older than every reclaimed version
    with pytest.raises(SnapshotGoneError):
        store.interactions.snapshot(2)


def test_reclaiming_keeps_what_the_oldest_active_snapshot_needs(store: Store) -> None:
    (a,) = store.interactions.add_many([item(1)])
    store.interactions.update(a["id"], change(rating=0.5), EVENT)  # ends version 1 at 2
    job = store.jobs.create(JobInSchema().load({}), None, 7)  # snapshot 2
    store.interactions.update(a["id"], change(rating=0.6), EVENT)  # ends version 2 at 3
    assert store.reclaim_versions() == 1  # version 1: no snapshot at or after 2 holds it
    assert rows(store, job["snapshot_seq"]) == [(a["id"], 0.5, "weather")]
    assert store.interactions.snapshot_intact(job["snapshot_seq"])


def test_audit_events_say_who_changed_what_and_stay_bounded(store: Store) -> None:
    (a,) = store.interactions.add_many([item(1)])
    store.interactions.update(a["id"], change(rating=0.5, metadata={"k": 1}), EVENT)
    events, more = store.interactions.events(a["id"], 10)
    assert not more and len(events) == 1
    assert events[0]["actor"] == "tests" and events[0]["type"] == "interaction.updated"
    assert events[0]["changes"] == {
        "metadata": {"before": {}, "after": {"k": 1}},
        "rating": {"before": 0.9, "after": 0.5},
    }
    for n in range(MAX_EVENTS + 5):
        store.interactions.update(a["id"], change(rating=n / 1000), EVENT)
    assert len(store.interactions.events(a["id"], 1000)[0]) == MAX_EVENTS
    store.interactions.delete(a["id"], {"type": "interaction.deleted", "actor": "tests"})
    last = store.interactions.events(a["id"], 1000)[0][-1]
    assert last["type"] == "interaction.deleted"
    assert 0 < store.redis.ttl(keys.DEFAULT_SPACE.interaction_events(a["id"])) <= 30 * 86400


def values_holding(redis: Redis, needle: str) -> list[str]:
    """Every key any of whose values (members, fields, entries) holds needle."""
    read = {
        "string": redis.get,
        "hash": redis.hgetall,
        "list": lambda key: redis.lrange(key, 0, -1),
        "set": redis.smembers,
        "zset": lambda key: redis.zrange(key, 0, -1),
        "stream": redis.xrange,
    }
    return sorted(k for k in redis.scan_iter(count=1000) if needle in str(read[redis.type(k)](k)))


def test_a_deleted_interaction_is_kept_only_for_a_running_jobs_snapshot_then_nowhere(
    store: Store,
) -> None:
    secret = uuid.uuid4().hex
    mine = {**item(1), "input": f"my card is {secret}", "metadata": {"note": secret}}
    (a,) = store.interactions.add_many([mine])
    store.interactions.update(a["id"], change(metadata={"note": f"{secret} again"}), EVENT)
    job = store.jobs.create(JobInSchema().load({}), None, 8)  # queued: its snapshot holds a
    store.interactions.delete(a["id"], {"type": "interaction.deleted", "actor": "tests"})
    assert store.reclaim_versions() == 1  # the version the edit ended: the job never saw it
    assert values_holding(store.redis, secret) == [
        keys.DEFAULT_SPACE.versions[3]
    ]  # for the job only
    assert [r[0] for r in rows(store, job["snapshot_seq"])] == [a["id"]]
    assert store.interactions.events(a["id"], 10)[0][0]["changes"] == {"metadata": {}}
    store.jobs.fail(job["id"], "collect", "test", "ended by the test")
    assert store.reclaim_versions() == 1  # the version the delete ended
    assert values_holding(store.redis, secret) == []
