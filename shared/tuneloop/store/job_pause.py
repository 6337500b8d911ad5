"""Pausing and resuming a job, and the stage start a pause refuses (JobStore's part).

A queued job is paused at once; a running one is `pausing` until its runner stops at a stage,
epoch or step boundary with a checkpoint, or the sweeper finds nothing carries it on, and is
then settled `paused` (lua/job_settle_pause.lua). Each status change writes its event in the
same Lua step, numbered by the job's pause count. Resuming a paused job queues it again (the
caller sends its stages); resuming a pausing one withdraws the pause.
"""

import json
from dataclasses import dataclass

from redis import Redis

from tuneloop import contracts, graph
from tuneloop.store import job_keys, keys, scripts
from tuneloop.store.parts import plan_name
from tuneloop.timeutil import now

START = scripts.source("job_start_stage", **job_keys.JOB_KEYS)
PAUSE = scripts.source("job_pause", **job_keys.JOB_KEYS)
RESUME = scripts.source("job_resume", **job_keys.JOB_KEYS)
SETTLE = scripts.source("job_settle_pause", **job_keys.JOB_KEYS)
SETTLED = {1: "settled", 0: "carried", -1: "withdrawn"}  # job_settle_pause.lua's answers
PAUSED_MESSAGE = "job paused while queued: no stage of it runs until it is resumed"
PAUSING_MESSAGE = "pause requested: the job stops at its next stage, epoch or step boundary"
RESUMED_MESSAGE = "job resumed: its stages are sent again; done stages pass, training continues"
UNPAUSED_MESSAGE = "job resumed before its pause took effect: it goes on running"


@dataclass(frozen=True)
class Change:
    """What a pause or resume did: the outcome, the job's status after, the pause's number.

    outcome is "changed", "same" (nothing to do: already so), "ended" or "missing".
    """

    outcome: str
    status: str | None
    pause: int = 0


class JobPauses:
    """Pause, resume, settle a pause, and start a stage unless a pause halted the job."""

    def __init__(self, redis: Redis) -> None:
        self._start = redis.register_script(START)
        self._pause = redis.register_script(PAUSE)
        self._resume = redis.register_script(RESUME)
        self._settle_pause = redis.register_script(SETTLE)

    def start_stage(self, jid: str, stage: str) -> str:
        """Mark the job running in stage: "started"; or "ended", "halted" (pausing or paused:
        no stage starts) or "missing", changing nothing."""
        head = job_keys.head(jid)
        return str(self._start(keys=head, args=[jid, json.dumps(stage), json.dumps(now())]))

    def pause(self, jid: str) -> Change:
        """Pause the job: queued -> paused, running -> pausing (see the module docstring)."""
        bodies = [_event("job.paused", PAUSED_MESSAGE), _event("job.pausing", PAUSING_MESSAGE)]
        return _change(self._pause(keys=_event_keys(jid), args=[jid, *bodies]))

    def resume(self, jid: str) -> Change:
        """Resume the job: paused -> queued (send its stages), pausing -> running."""
        bodies = [_event("job.resumed", RESUMED_MESSAGE), _event("job.resumed", UNPAUSED_MESSAGE)]
        return _change(self._resume(keys=_event_keys(jid), args=[jid, *bodies]))

    def settle_pause(self, jid: str, why: str, check_parts: bool = True) -> str:
        """Settle a pausing job as paused when no stage lease is held and, with check_parts,
        no part of a fanned-out stage is in flight. Return "settled" (it is paused now);
        "carried" (not settled: still carried on, paused already or ended); or "withdrawn":
        the job is queued or running again (its pause withdrawn meanwhile), so the caller
        must carry it on. why ends the job.paused event's message."""
        fanned = sorted(graph.FANNED)
        parts = [(keys.artifact(jid, plan_name(s)), keys.job_parts_done(jid, s)) for s in fanned]
        names = [
            *_event_keys(jid),
            keys.job_steps(jid),
            *job_keys.leases(jid),
            *(key for pair in parts for key in pair),
        ]
        body = _event("job.paused", f"job paused: {why}")
        args = [jid, body, len(contracts.STAGES), "1" if check_parts else "0", *fanned]
        return SETTLED[int(self._settle_pause(keys=names, args=args))]


def _event_keys(jid: str) -> list[str]:
    """The job scripts' head, then the job's event stream and its set of event keys."""
    return [*job_keys.head(jid), keys.job_events(jid), keys.job_event_keys(jid)]


def _event(type_: str, message: str) -> str:
    """An event's body as the job's log stores it."""
    body = {"created_at": now(), "level": "info", "type": type_, "message": message, "data": {}}
    return json.dumps(body)


def _change(found: list) -> Change:
    """Read a pause or resume script's answer."""
    match found[0]:
        case "missing":
            return Change("missing", None)
        case "ended" | "same":
            return Change(found[0], found[1])
    return Change("changed", found[0], int(found[1]))
