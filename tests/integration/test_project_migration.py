"""Data stored before projects becomes the default project's, once, and again safely."""

import json
import zlib
from collections.abc import Iterator

import pytest
from redis import Redis

from tuneloop.store import Store, keys, projects

from .support import Stack

pytestmark = pytest.mark.integration

DB = 7  # a database of the session's redis-server of its own: the session's jobs are in 0


@pytest.fixture
def store(stack: Stack) -> Iterator[Store]:
    """A store on an empty database of the session's Redis, emptied again afterwards."""
    redis = Redis.from_url(stack.redis_url.rsplit("/", 1)[0] + f"/{DB}", decode_responses=True)
    redis.flushdb()
    yield Store(redis)
    redis.flushdb()
    redis.close()


def store_as_before_projects(store: Store) -> tuple[str, str, str]:
    """A job, a file and a model as an older Tuneloop left them: no project, global lists."""
    redis, default = store.redis, keys.Space(keys.DEFAULT_PROJECT)
    store.interactions.add_many(
        [{"input": "hi", "output": "hello", "rating": 1.0, "task_type": "t"}]
    )
    job = store.jobs.create({"model": "tuneloop-keyword-baseline"}, None, 8)
    redis.hdel(keys.job(job["id"]), "project")
    fid, packed = "file-0123456789abcdef01234567", zlib.compress(b'{"messages": []}')
    record = {"id": fid, "object": "file", "purpose": "fine-tune", "status": "processed"}
    record["tuneloop"] = {"rows": 1, "stored_bytes": len(packed)}  # no project: as before
    store.raw.set(keys.file_content(fid), packed)
    redis.set(keys.file(fid), json.dumps(record))
    redis.zadd(keys.FILES, {fid: 1})
    mid = "ft-0123456789ab"
    redis.set(keys.model_meta(mid), json.dumps({"id": mid, "object": "model", "created_at": 1}))
    redis.zadd(keys.MODELS, {mid: 1})
    redis.delete(default.jobs, default.files, default.models, keys.LAYOUT)
    return job["id"], fid, mid


def seen_by(store: Store, project: str) -> dict[str, list[str]]:
    """The ids each of a project's lists shows, and its interactions' count."""
    view = store.scoped(project)
    return {
        "jobs": [j["id"] for j in view.jobs.page(limit=10)[0]],
        "files": [f["id"] for f in view.files.page(limit=10)[0]],
        "models": [m["id"] for m in view.models.list()],
        "interactions": [str(view.interactions.count())],
    }


def test_data_from_before_projects_is_the_default_projects_and_no_other(store: Store) -> None:
    jid, fid, mid = store_as_before_projects(store)
    assert projects.migrate(store.redis) == {"jobs": 1, "files": 1, "models": 1}
    assert seen_by(store, "default") == {
        "jobs": [jid],
        "files": [fid],
        "models": [mid],
        "interactions": ["1"],
    }
    assert seen_by(store, "team-b") == {
        "jobs": [],
        "files": [],
        "models": [],
        "interactions": ["0"],
    }
    b = store.scoped("team-b")
    assert b.jobs.get(jid) is None and b.files.get(fid) is None and b.models.meta(mid) is None
    assert store.scoped("default").jobs.get(jid)["project"] == "default"


def test_the_migration_counts_what_the_default_project_already_stores(store: Store) -> None:
    _, fid, _ = store_as_before_projects(store)
    store.redis.delete(keys.Space(keys.DEFAULT_PROJECT).usage)  # as before budgets
    projects.migrate(store.redis)
    found = store.scoped("default").usage()
    (iid,) = store.redis.zrange(keys.DEFAULT_SPACE.interactions, 0, -1)
    assert found["interactions"] == {
        "bytes": store.redis.strlen(keys.DEFAULT_SPACE.interaction(iid)),
        "count": 1,
    }
    stored = store.raw.strlen(keys.file_content(fid))
    assert found["files"] == {"bytes": stored, "count": 1}
    assert found["models"] == {"bytes": 0, "count": 1}  # a description without saved bytes
    assert found["bytes"] == found["interactions"]["bytes"] + found["files"]["bytes"]
    assert store.scoped("team-b").usage()["bytes"] == 0


def test_the_migration_runs_once_and_again_without_change(store: Store) -> None:
    store_as_before_projects(store)
    projects.migrate(store.redis)
    listed = seen_by(store, "default")
    assert projects.migrate(store.redis) == {"jobs": 0, "files": 0, "models": 0}  # done once
    store.redis.delete(keys.LAYOUT)  # as if it stopped before recording that it was done
    assert projects.migrate(store.redis) == {"jobs": 1, "files": 1, "models": 1}
    assert seen_by(store, "default") == listed  # the same members, nothing twice
    assert store.redis.zcard(keys.Space(keys.DEFAULT_PROJECT).jobs) == 1
