"""Projects in the store: the names recorded, and the one-time move to per-project lists.

Before projects, every job, file and model was listed only in a global list. The default
project's interactions and aliases already sit where its key space puts them (keys.Space),
so what moves is membership: each job, file and model stored without a project joins the
default project's list, under the score it had. Every step is an idempotent ZADD, so the
migration may run in several gateway processes at once, stop half-way and run again.

Then the default project's usage (store/budget.py) is counted from what it stores, and set
whole (not added to), so running it again gives the same figures. Writes made while it counts
(it runs as a gateway starts) may be missed or counted twice; the figures are exact from the
next start on only if nothing wrote meanwhile.
"""

import json

from redis import Redis

from tuneloop.stages.compare import CASE_LISTS
from tuneloop.store import keys, scripts

LAYOUT_VERSION = 2  # 1: one global space; 2: per-project lists
BATCH = 500
MODEL_SIZE = scripts.source("model_size_of")
LIST_BYTES = scripts.source("list_bytes")
TRAIL_BYTES = scripts.source("trail_bytes_of")
JOB_SIZES = scripts.source("job_set_if_exists")


class Counting:
    """The scripts that count what a project already stores, where it is stored."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.list_bytes = redis.register_script(LIST_BYTES)
        self.model_size = redis.register_script(MODEL_SIZE)
        self.trail_bytes = redis.register_script(TRAIL_BYTES)
        self.job_sizes = redis.register_script(JOB_SIZES)


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
    count_usage(redis, keys.DEFAULT_PROJECT)
    redis.set(keys.LAYOUT, LAYOUT_VERSION)
    return moved


def count_usage(redis: Redis, project: str) -> dict[str, int]:
    """Count what a project stores, set its usage hash to it and return it."""
    space = keys.Space(project)
    counting = Counting(redis)
    list_bytes = counting.list_bytes
    found: dict[str, int] = {}
    found["interactions:count"], found["interactions:bytes"] = _interactions(counting, space)
    jobs = _members(redis, space.jobs)
    eval_sets = [int(list_bytes(keys=[keys.job_eval_set(j)])) for j in jobs]
    found["eval_sets:bytes"] = sum(eval_sets)
    found["eval_sets:count"] = sum(1 for b in eval_sets if b)
    cases = [sum(int(list_bytes(keys=[keys.job_cases(j, o)])) for o in CASE_LISTS) for j in jobs]
    found["cases:bytes"], found["cases:count"] = sum(cases), 0
    pipe = redis.pipeline(transaction=False)
    for jid, stored, case_bytes in zip(jobs, eval_sets, cases, strict=True):
        sizes = ["eval_set_bytes", stored, "cases_bytes", case_bytes]  # only on a job that is
        counting.job_sizes(keys=[keys.job(jid)], args=sizes, client=pipe)
    pipe.execute()
    files = _members(redis, space.files)
    records = [json.loads(r) for r in (redis.mget(map(keys.file, files)) if files else []) if r]
    stored = [(r.get("tuneloop") or {}).get("stored_bytes", 0) for r in records]
    found["files:bytes"], found["files:count"] = sum(stored), len(records)
    models = _members(redis, space.models)
    model_size = counting.model_size
    sizes = [int(model_size(keys=[keys.model(m)])) for m in models]
    found["models:bytes"], found["models:count"] = sum(sizes), len(models)
    found["bytes"] = sum(v for k, v in found.items() if k.endswith(":bytes"))
    redis.delete(space.usage)
    redis.hset(space.usage, mapping=found)
    return found


def _interactions(counting: Counting, space: keys.Space) -> tuple[int, int]:
    """How many live interactions a space holds, and the bytes of their records and audit
    events, read in one pass over its index."""
    count = total = 0
    members = _members(counting.redis, space.interactions)
    for start in range(0, len(members), BATCH):
        pipe = counting.redis.pipeline(transaction=False)
        for iid in members[start : start + BATCH]:
            pipe.strlen(space.interaction(iid))
            counting.trail_bytes(keys=[space.interaction_events(iid)], client=pipe)
        found = pipe.execute()
        records = [n for n in found[0::2] if n]
        count += len(records)
        total += sum(records) + sum(int(n) for n in found[1::2])
    return count, total


def _members(redis: Redis, index: str) -> list[str]:
    """Every member of a sorted set, read in batches."""
    found: list[str] = []
    while chunk := redis.zrange(index, len(found), len(found) + BATCH - 1):
        found += chunk
    return found


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
