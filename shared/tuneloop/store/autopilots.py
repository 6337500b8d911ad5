"""Autopilots: a trigger, a job template, a gate and a rollback rule per record, with its runs.

An autopilot is a hash of JSON values under its id, listed globally (the scheduler's tick
visits every one) and in its project's list. Its runs are a bounded list, newest first; at
most one run is in flight (`in_flight`: its job id), claimed in one Lua step so that two
schedulers never start it twice.
"""

import json

from redis import Redis

from tuneloop import contracts
from tuneloop.store import ids, keys, paging, prefixes, scripts
from tuneloop.timeutil import now

CREATE = scripts.source("autopilot_create")
CLAIM = scripts.source("autopilot_claim", AUTOPILOT_ACTIVE=contracts.AUTOPILOT_ACTIVE)
SETTLE = scripts.source("autopilot_settle")
MARK_RUN = scripts.source("autopilot_mark_run")
DELETE = scripts.source("autopilot_delete")
SET_IF_EXISTS = scripts.source("job_set_if_exists")
ROLL_BACK = scripts.source("alias_roll_back", AUTOPILOT_ACTIVE=contracts.AUTOPILOT_ACTIVE)
ACTIVE, PAUSED = contracts.AUTOPILOT_ACTIVE, contracts.AUTOPILOT_PAUSED
STATUSES = contracts.AUTOPILOT_STATUSES
MAX_RUNS = 100  # runs kept per autopilot, newest first
MAX_PER_PROJECT = 50  # autopilots one project may have
FIELDS = (
    "id",
    "object",
    "project",
    "owner",
    "name",
    "status",
    "trigger",
    "job",
    "promote_if",
    "rollback_if",
    "created_at",
    "last_run_at",
    "ratings_at_last_run",
    "runs_count",
    "in_flight",
)


class TooManyAutopilots(Exception):  # noqa: N818 - a refusal, answered 429
    """The project has MAX_PER_PROJECT autopilots already."""


class AutopilotStore:
    """Autopilot records; given a project, that project's view (another's reads as none)."""

    def __init__(self, redis: Redis, project: str | None = None) -> None:
        self.redis, self.project = redis, project
        self.space = keys.Space(project or keys.DEFAULT_PROJECT)
        self._create = redis.register_script(CREATE)
        self._claim = redis.register_script(CLAIM)
        self._settle = redis.register_script(SETTLE)
        self._mark_run = redis.register_script(MARK_RUN)
        self._delete = redis.register_script(DELETE)
        self._set = redis.register_script(SET_IF_EXISTS)
        self._roll_back = redis.register_script(ROLL_BACK)

    def create(self, spec: dict, owner: str, ratings_now: int) -> dict:
        """Store a new active autopilot from spec (trigger, job, promote_if, rollback_if, name);
        TooManyAutopilots at the project's limit. Its ratings are counted from ratings_now."""
        aid = ids.new_autopilot()
        record = {
            "id": aid,
            "object": "autopilot",
            "project": self.space.project,
            "owner": owner,
            "name": spec.get("name"),
            "status": ACTIVE,
            "trigger": spec["trigger"],
            "job": spec["job"],
            "promote_if": spec["promote_if"],
            "rollback_if": spec.get("rollback_if"),
            "created_at": now(),
            "last_run_at": None,
            "ratings_at_last_run": ratings_now,
            "runs_count": 0,
            "in_flight": None,
        }
        pairs = [a for k, v in record.items() for a in (k, _value(k, v))]
        seq = self.redis.incr(keys.AUTOPILOT_SEQ)
        names = [keys.autopilot(aid), keys.AUTOPILOTS, self.space.autopilots]
        if not self._create(keys=names, args=[aid, seq, MAX_PER_PROJECT, *pairs]):
            raise TooManyAutopilots(MAX_PER_PROJECT)
        return self.get(aid)  # type: ignore[return-value]

    def get(self, aid: str, runs: int = 0) -> dict | None:
        """Return the autopilot with up to runs of its runs (newest first); None if not seen."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(keys.autopilot(aid), FIELDS)
        if runs:
            pipe.lrange(keys.autopilot_runs(aid), 0, runs - 1)
        values, *listed = pipe.execute()
        if values[0] is None:
            return None
        found = {k: _load(k, v) for k, v in zip(FIELDS, values, strict=True)}
        if self.project is not None and found["project"] != self.project:
            return None
        found["runs"] = [json.loads(r) for r in listed[0]] if runs else []
        return found

    def page(self, limit: int, after: str | None = None) -> tuple[list[dict], bool]:
        """Return up to limit of the project's autopilots after the cursor, newest first."""
        start = paging.start_after(self.redis, self.space.autopilots, after, reverse=True)
        batches = (
            [a for a in (self.get(aid) for aid in chunk) if a is not None]
            for chunk in paging.ids_from(self.redis, self.space.autopilots, start, "-inf", True)
        )
        return paging.first_page(batches, limit)

    def with_prefix(self, prefix: str, cap: int = 10) -> prefixes.Matches:
        """Return this view's autopilots starting with prefix (newest first, up to cap)."""
        return prefixes.with_prefix(self.redis, self.space.autopilots, prefix, cap)

    def every_id(self) -> list[str]:
        """Return the id of every project's autopilot (the scheduler's tick visits each)."""
        return list(self.redis.zrange(keys.AUTOPILOTS, 0, -1))

    def set_status(self, aid: str, status: str) -> bool:
        """Set the autopilot active or paused; return whether it exists."""
        assert status in STATUSES
        return bool(self._set(keys=[keys.autopilot(aid)], args=["status", json.dumps(status)]))

    def delete(self, aid: str) -> bool:
        """Delete the autopilot and its runs (their jobs stay); return whether it existed."""
        project = self.project or self._project_of(aid)
        names = [
            keys.autopilot(aid),
            keys.autopilot_runs(aid),
            keys.AUTOPILOTS,
            keys.Space(project).autopilots,
        ]
        return bool(self._delete(keys=names, args=[aid]))

    def claim(self, autopilot: dict, run: dict, ratings_now: int) -> bool:
        """Claim the autopilot's next run (run names its job id); False when another did, or
        it was paused, deleted or has a run in flight."""
        aid = autopilot["id"]
        args = [
            str(autopilot["runs_count"]),
            json.dumps(run),
            run["job_id"],
            json.dumps(run["started_at"]),
            json.dumps(ratings_now),
            MAX_RUNS,
        ]
        return bool(self._claim(keys=[keys.autopilot(aid), keys.autopilot_runs(aid)], args=args))

    def settle(self, aid: str, job_id: str, fields: dict) -> bool:
        """End the run in flight of job_id with fields; False when it was settled already."""
        names = [keys.autopilot(aid), keys.autopilot_runs(aid)]
        return bool(self._settle(keys=names, args=[job_id, json.dumps(fields)]))

    def mark_run(self, aid: str, job_id: str, fields: dict) -> bool:
        """Set fields on the run of job_id; False when no kept run is that job's."""
        return bool(
            self._mark_run(keys=[keys.autopilot_runs(aid)], args=[job_id, json.dumps(fields)])
        )

    def roll_back(self, autopilot: dict, alias: str, live: str, target: dict) -> int:
        """Point the autopilot's project's alias back at target's model while it still names
        live and the autopilot is active: 1 done, 0 moved or paused meanwhile, -1 the earlier
        model is gone."""
        names = [
            keys.Space(autopilot["project"]).model_alias(alias),
            keys.model_meta(target["model_id"]),
            keys.autopilot(autopilot["id"]),
        ]
        return int(self._roll_back(keys=names, args=[live, json.dumps(target)]))

    def _project_of(self, aid: str) -> str:
        raw = self.redis.hget(keys.autopilot(aid), "project")
        return json.loads(raw) if raw else keys.DEFAULT_PROJECT


def _value(name: str, value: object) -> str:
    """A field as the hash keeps it: JSON, except runs_count (a plain count the claim compares)."""
    return str(value) if name == "runs_count" else json.dumps(value)


def _load(name: str, raw: str | None) -> object:
    """A field as read from the hash."""
    if raw is None:
        return None
    return int(raw) if name == "runs_count" else json.loads(raw)
