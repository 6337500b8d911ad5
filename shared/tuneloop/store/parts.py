"""The parts of a fanned-out stage: which are done, what each reported, marked once each.

A part's index goes into the stage's done-parts set and its progress step into the job's
steps in one Lua step (store/lua/part_done.lua), so a redelivered or duplicated part counts
nothing; the call that adds the last part marks the stage done in that same step.
"""

import json
from dataclasses import dataclass

from redis import Redis

from tuneloop.store import keys, scripts

DONE = scripts.source("part_done")
TTL = 7 * 86400  # as a job's artifacts: the sets outlive any job that still runs


def plan_name(stage: str) -> str:
    """Return the artifact name of a fanned-out stage's plan ({parts, ...}, stored last)."""
    return f"{stage}:plan"


def part_step(stage: str, index: int) -> str:
    """Return the progress step a part of stage counts as."""
    return f"{stage}:part:{index}"


@dataclass(frozen=True)
class Marked:
    """What marking a part did: whether it was new, and whether it completed the stage."""

    added: bool
    completed: bool


class PartStore:
    """Done parts of a job's fanned-out stages."""

    def __init__(self, redis: Redis, ttl: int = TTL) -> None:
        self.redis, self.ttl = redis, ttl
        self._done = redis.register_script(DONE)

    def mark_done(self, jid: str, stage: str, index: int, total: int, report: dict) -> Marked:
        """Mark part index of total done with its report; the last one marks the stage done."""
        names = [
            keys.job_parts_done(jid, stage),
            keys.job_part_runs(jid, stage),
            keys.job_steps(jid),
            keys.job(jid),
        ]
        args = [index, total, part_step(stage, index), json.dumps(report), self.ttl, stage]
        added, completed = self._done(keys=names, args=args)
        return Marked(bool(added), bool(completed))

    def done(self, jid: str, stage: str) -> set[int]:
        """Return the indexes of the stage's parts that are done."""
        return {int(i) for i in self.redis.smembers(keys.job_parts_done(jid, stage))}

    def reports(self, jid: str, stage: str) -> dict[int, dict]:
        """Return what each done part reported, by index."""
        raw = self.redis.hgetall(keys.job_part_runs(jid, stage))
        return {int(i): json.loads(v) for i, v in raw.items()}
