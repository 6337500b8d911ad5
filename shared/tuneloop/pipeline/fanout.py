"""Fanned-out stages: a stored plan of parts, each run once as a task, joined by the last.

The stage's own task runs the plan (graph.Stage.work) under the runner, as any stage: it
stores each part's input as a job artifact, then the plan itself (so a plan found is whole),
and raises FannedOut naming the parts not done yet; the worker sends those as a Celery group
and ends its chain. Each part runs run_part: it checks the job is still active, runs the
stage's part function, and marks the part done in one Lua step (store/parts.py). A pause lets
the parts already sent run to their end (each is at most limits.embed_part_size texts): a
pausing job settles paused only once none is in flight (lua/job_settle_pause.lua); a part
of a job already paused does not run (its resume sends the parts not done). Only the
call that adds the last part has the stage marked done (in that step); it then runs the
stage's join and records the stage's end, and the worker sends the stages after it.

A plan sent again (the sweeper re-drives a job whose parts were all lost) reuses the stored
plan: it sends only the parts not done, and when every part is done it returns, so the
runner marks the stage done as usual.
"""

import functools
import importlib
import logging
import time
from collections.abc import Callable, Sequence

from tuneloop import contracts, failpoints, graph
from tuneloop.errors import FannedOut, StageError, StageSkipped
from tuneloop.pipeline.runner import Limits, fail, record_finished
from tuneloop.store import Store
from tuneloop.store.leases import holder_id
from tuneloop.store.outage import persist
from tuneloop.store.parts import plan_name

log = logging.getLogger(__name__)

PartWork = Callable[[Store, dict, int, Limits], dict]
JoinWork = Callable[[Store, dict, Limits], None]


def part_name(stage: str, index: int) -> str:
    """Return the artifact name of one part's input."""
    return f"{stage}:part:{index}"


def delivery_name(stage: str, index: int) -> str:
    """Return the name a part's starts are counted under (the job's deliveries)."""
    return f"{stage}#{index}"


@functools.cache
def _named(ref: str) -> Callable:
    """Return the function "module:function" names (imported on first use)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def part_of(stage: str) -> PartWork:
    """Return the part function the graph names for a fanned-out stage."""
    return _named(graph.BY_NAME[stage].fan_out.part)  # type: ignore[union-attr]


def join_of(stage: str) -> JoinWork:
    """Return the join function the graph names for a fanned-out stage."""
    return _named(graph.BY_NAME[stage].fan_out.join)  # type: ignore[union-attr]


def planned(store: Store, jid: str, stage: str) -> dict | None:
    """Return the stage's stored plan, or None before it was made."""
    return store.artifacts.get_or_none(jid, plan_name(stage))  # type: ignore[return-value]


def parts_planned(store: Store, jid: str) -> int:
    """Return how many parts the job's fanned-out stages planned: progress steps of their own."""
    return sum((planned(store, jid, stage) or {}).get("parts", 0) for stage in graph.FANNED)


def save_plan(store: Store, jid: str, stage: str, parts: Sequence[object], about: dict) -> dict:
    """Store each part's input, then the plan (parts, about, when); return the plan."""
    for index, value in enumerate(parts):
        store.artifacts.put(jid, part_name(stage, index), value)
    plan = {**about, "parts": len(parts), "planned_at": time.time()}
    store.artifacts.put(jid, plan_name(stage), plan)  # last: a plan found is whole
    return plan


def part_input(store: Store, jid: str, stage: str, index: int) -> object:
    """Return one part's input; StageSkipped when it is gone (the job ended and freed it)."""
    value = store.artifacts.get_or_none(jid, part_name(stage, index))
    if value is None:
        raise StageSkipped(f"the input of {stage} part {index} of job {jid} is gone")
    return value


def send_rest(store: Store, jid: str, stage: str, plan: dict) -> None:
    """Return when every part is done; else raise FannedOut naming the parts not done."""
    done = store.parts.done(jid, stage)
    todo = tuple(i for i in range(plan["parts"]) if i not in done)
    if todo:
        raise FannedOut(stage, todo)


def run_part(store: Store, jid: str, stage: str, index: int, limits: Limits) -> bool:
    """Run one part at most once to its mark; return whether it completed the stage."""
    job = store.jobs.get(jid)
    if job is None or job["status"] in (*contracts.TERMINAL, contracts.PAUSED):
        raise StageSkipped(f"job {jid} is {job['status'] if job else 'gone'}")
    if stage in store.jobs.steps_done(jid):
        raise StageSkipped(f"{stage} of job {jid} is done")
    plan = planned(store, jid, stage)
    if plan is None or index >= plan["parts"]:
        raise StageSkipped(f"{stage} of job {jid} has no part {index}")
    if index in store.parts.done(jid, stage):
        raise StageSkipped(f"{stage} part {index} of job {jid} is done")
    holder, name = holder_id(), delivery_name(stage, index)
    started, crashes = store.deliveries.start(jid, name, holder)
    try:
        if crashes >= limits.max_crashes:
            message = f"{stage} part {index} died {crashes} times without finishing"
            fail(store, jid, stage, "stage_crashed_repeatedly", message, limits)
            raise StageSkipped(message)
        failpoints.hit(f"{stage}_part", started)
        began = time.time()
        try:
            report = part_of(stage)(store, job, index, limits)
        except StageError as exc:
            fail(store, jid, stage, exc.code, exc.message, limits)
            raise StageSkipped(str(exc)) from exc
        host, pid = holder.split("|")[:2]
        report = {**report, "host": host, "pid": int(pid), "began": began, "ended": time.time()}
        marked = store.parts.mark_done(jid, stage, index, plan["parts"], report)
    finally:
        end = functools.partial(store.deliveries.end, jid, name, holder)
        persist(end, limits.outage_grace, f"{name} end")
    if marked.added:
        store.jobs.add_event(
            jid,
            f"{stage}:part:{index}",
            "message",
            f"{stage}: part {index + 1} of {plan['parts']} done on {host}",
            {"stage": stage, "part": index, "parts": plan["parts"], "host": host, "pid": int(pid)},
        )
    if marked.completed:
        joined(store, job, stage, plan, limits)
    return marked.completed


def joined(store: Store, job: dict, stage: str, plan: dict, limits: Limits) -> None:
    """Run the stage's join and record its end (its step was marked with the last part)."""
    jid = job["id"]
    join_of(stage)(store, job, limits)
    elapsed = max(0.0, time.time() - plan["planned_at"])
    record_finished(store, jid, stage, elapsed, parts=plan["parts"])
    log.info("job %s stage %s: finished, %d parts joined", jid, stage, plan["parts"])
