"""Projects in the store: the names recorded, and the one-time move to per-project lists.

Before projects, every job, file and model was listed only in a global list. The default
project's interactions and aliases already sit where its key space puts them (keys.Space),
so what moves is membership: each job, file and model stored without a project joins the
default project's list, under the score it had. Every step is an idempotent ZADD, so the
migration may run in several gateway processes at once, stop half-way and run again.
"""

import json

from redis import Redis

from tuneloop.store import keys

LAYOUT_VERSION = 2  # 1: one global space; 2: per-project lists
BATCH = 500


def record(redis: Redis, projects: set[str]) -> None:
    """Record the configured projects' names (the default one always)."""
    redis.sadd(keys.PROJECTS, keys.DEFAULT_PROJECT, *projects)


def migrate(redis: Redis) -> dict[str, int]:
    """List every job, file and model stored before projects in the default project's lists;
    return how many of each were listed (zeros once the layout is current)."""
    moved = {"jobs": 0, "files": 0, "models": 0}
    if int(redis.get(keys.LAYOUT) or 0) >= LAYOUT_VERSION:
        return moved
    default = keys.Space(keys.DEFAULT_PROJECT)
    moved["jobs"] = _list_unowned(redis, keys.JOBS, default.jobs, _job_projects)
    moved["files"] = _list_unowned(redis, keys.FILES, default.files, _record_projects(keys.file))
    moved["models"] = _list_unowned(
        redis, keys.MODELS, default.models, _record_projects(keys.model_meta)
    )
    redis.set(keys.LAYOUT, LAYOUT_VERSION)
    return moved


def _list_unowned(redis: Redis, every: str, listed: str, projects_of: object) -> int:
    """Add to listed each member of every whose record names no project; return how many."""
    count, start = 0, 0
    while rows := redis.zrange(every, start, start + BATCH - 1, withscores=True):
        owners = projects_of(redis, [member for member, _ in rows])
        unowned = {m: score for (m, score), owner in zip(rows, owners, strict=True) if not owner}
        if unowned:
            redis.zadd(listed, unowned)
            count += len(unowned)
        start += BATCH
    return count


def _job_projects(redis: Redis, jids: list[str]) -> list[str | None]:
    """The project field of each job's hash (None when it has none)."""
    pipe = redis.pipeline(transaction=False)
    for jid in jids:
        pipe.hget(keys.job(jid), "project")
    return pipe.execute()


def _record_projects(key_of: object) -> object:
    """A reader of the project of each JSON record under key_of(id) (None when it has none)."""

    def read(redis: Redis, ids: list[str]) -> list[str | None]:
        raws = redis.mget([key_of(i) for i in ids])
        return [json.loads(raw).get("project") if raw else None for raw in raws]

    return read
