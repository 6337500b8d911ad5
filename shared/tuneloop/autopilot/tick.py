"""One pass of the scheduler over every autopilot: settle the run that ended, start the run
that is due, roll back a promoted model its own ratings disown.

Every step is safe to run twice or from two schedulers at once: a run is claimed in one Lua
step (store/autopilots.py), settled only while it is the run in flight, and an alias moves
back only while it still names the model judged.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from tuneloop import contracts, graph
from tuneloop.autopilot import rollback, trigger
from tuneloop.store import Store, ids
from tuneloop.store.autopilots import ACTIVE
from tuneloop.store.budget import BudgetExceeded
from tuneloop.store.jobs import Quota, QuotaExceeded
from tuneloop.timeutil import now
from tuneloop.webhooks import events

log = logging.getLogger(__name__)
LOST_AFTER = 120  # seconds a claimed run may lack its job before it counts as not started
# Sends a stored job's stages: (job id, kind, base model).
Queue = Callable[[str, str, str | None], None]
# Sends a webhook event: (project, event type, data with its id, a key it is sent once for).
Emit = Callable[[str, str, dict, str], None]


@dataclass
class Outcome:
    """What one tick did, by autopilot id."""

    started: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)


def tick(store: Store, queue: Queue, emit: Emit, quota: Quota) -> Outcome:
    """Visit every autopilot once (the unscoped store: every project's)."""
    outcome = Outcome()
    for aid in store.autopilots.every_id():
        try:
            visit(store, aid, queue, emit, quota, outcome)
        except Exception:  # one autopilot's fault never skips the others
            log.exception("autopilot %s: its tick failed", aid)
    return outcome


def visit(store: Store, aid: str, queue: Queue, emit: Emit, quota: Quota, outcome: Outcome) -> None:
    """Settle, start and roll back for one autopilot."""
    autopilot = store.autopilots.get(aid)
    if autopilot is None:  # deleted meanwhile
        return
    view = store.scoped(autopilot["project"])
    if autopilot["in_flight"] and settle(view, autopilot):
        outcome.settled.append(aid)
        autopilot = view.autopilots.get(aid)
        if autopilot is None:
            return
    if autopilot["status"] != ACTIVE:
        return
    if start_if_due(view, autopilot, queue, emit, quota):
        outcome.started.append(aid)
    if autopilot["rollback_if"] and roll_back_if_disowned(view, autopilot, emit):
        outcome.rolled_back.append(aid)


def settle(view: Store, autopilot: dict) -> bool:
    """Record the end of the run in flight once its job has ended (or never came to be)."""
    jid = autopilot["in_flight"]
    job = view.jobs.get(jid)
    if job is None:
        read = view.autopilots.get(autopilot["id"], runs=1) or {"runs": []}
        run = next(iter(read["runs"]), {})
        if now() - run.get("started_at", 0) < LOST_AFTER:
            return False  # claimed just now: its job is being stored
        fields = {"status": "not_started", "error": "its job was never stored, or is deleted"}
    elif job["status"] not in contracts.TERMINAL:
        return False
    else:
        fields = run_result(job)
    return view.autopilots.settle(autopilot["id"], jid, fields)


def run_result(job: dict) -> dict:
    """A run's fields once its job has ended: status, model, verdict and promotion."""
    promotion = (job.get("result") or {}).get("promotion") or {}
    return {
        "status": job["status"],
        "finished_at": job["finished_at"],
        "model_id": job.get("model_id"),
        "promoted": bool(promotion.get("promoted")),
        "verdict": promotion.get("reason") or _failure(job),
    }


def _failure(job: dict) -> str:
    """The verdict of a job that ended without a report."""
    error = job.get("error") or {}
    if error:
        return f"the job {job['status']}: {error.get('code')}: {error.get('message')}"
    return f"the job {job['status']}"


def start_if_due(view: Store, autopilot: dict, queue: Queue, emit: Emit, quota: Quota) -> bool:
    """Start the autopilot's next run when its trigger is due; return whether one started."""
    if autopilot["in_flight"]:
        return False
    ratings = view.interactions.ratings_added()
    started_at = now()
    reason = trigger.due(autopilot, ratings, started_at)
    if reason is None:
        return False
    aid, jid = autopilot["id"], ids.new_job(graph.FINE_TUNING)
    run = {"job_id": jid, "reason": reason, "started_at": started_at, "status": "starting"}
    if not view.autopilots.claim(autopilot, run, ratings):
        return False  # another scheduler's tick, a pause or a delete came first
    request = {**autopilot["job"], "promote_if": autopilot["promote_if"]}
    total = graph.progress_total(request["hyperparameters"]["n_epochs"])
    try:
        view.jobs.create(
            request, None, total, autopilot["owner"], quota, graph.FINE_TUNING, jid, aid
        )
    except (QuotaExceeded, BudgetExceeded) as exc:
        error = _refusal(exc)
        view.autopilots.settle(aid, jid, {"status": "not_started", "error": error})
        log.warning("autopilot %s: run not started: %s", aid, error)
        return False
    try:
        queue(jid, graph.FINE_TUNING, request.get("model"))
    except Exception:  # the broker refused: the job goes, the run says so
        log.exception("autopilot %s: job %s could not be queued", aid, jid)
        view.jobs.delete(jid)
        view.autopilots.settle(aid, jid, {"status": "not_started", "error": "not queued"})
        return False
    view.jobs.add_event(
        jid, "autopilot:run", "autopilot.run.started", f"started by autopilot {aid}: {reason}"
    )
    emit(
        autopilot["project"],
        events.AUTOPILOT_RUN_STARTED,
        {"id": aid, "job_id": jid, "reason": reason},
        f"{aid}:{jid}:started",
    )
    log.info("autopilot %s: started job %s: %s", aid, jid, reason)
    return True


def _refusal(exc: Exception) -> str:
    """Why a run's job was not stored."""
    if isinstance(exc, QuotaExceeded):
        return f"the project is at its quota of {exc.limit} {exc.kind} jobs"
    return str(exc)


def roll_back_if_disowned(view: Store, autopilot: dict, emit: Emit) -> bool:
    """Point latest-promoted back at the model before it when the model this autopilot
    promoted rates worse on its own ratings (rollback.judge); return whether it moved."""
    target = view.models.alias(contracts.LATEST_PROMOTED)
    previous = (target or {}).get("previous")
    if not target or not previous:
        return False
    job = view.jobs.get(target["job_id"])
    if job is None or job.get("autopilot_id") != autopilot["id"]:
        return False  # promoted by hand or by another autopilot: not this one's to undo
    rule = autopilot["rollback_if"]
    live, before = target["model_id"], previous["model_id"]
    judgement = rollback.judge(
        view.interactions.recent_ratings(live, rule["window"]),
        view.interactions.recent_ratings(before, rule["window"]),
        rule,
    )
    if judgement is None or not judgement.roll_back:
        return False
    at = now()
    restored = {
        "model_id": before,
        "job_id": previous.get("job_id"),
        "promoted_at": at,
        "rolled_back_from": {"model_id": live, "job_id": target["job_id"]},
    }
    moved = view.autopilots.roll_back(autopilot, contracts.LATEST_PROMOTED, live, restored)
    if moved == -1:
        log.warning("autopilot %s: %s is gone: %s stays live", autopilot["id"], before, live)
    if moved != 1:
        return False
    details = {"at": at, "restored_model_id": before, **judgement.as_dict()}
    view.autopilots.mark_run(autopilot["id"], target["job_id"], {"rolled_back": details})
    view.jobs.add_event(
        target["job_id"],
        "model:rolled_back",
        "model.rolled_back",
        f"{contracts.LATEST_PROMOTED} moved back from {live} to {before}: {judgement.reason}",
        {"model_id": live, "restored_model_id": before, "autopilot_id": autopilot["id"]},
        level="warning",
    )
    emit(
        autopilot["project"],
        events.MODEL_ROLLED_BACK,
        {
            "id": live,
            "restored_model_id": before,
            "alias": contracts.LATEST_PROMOTED,
            "autopilot_id": autopilot["id"],
            "job_id": target["job_id"],
            "reason": judgement.reason,
        },
        f"{autopilot['id']}:{target['job_id']}:rolled_back",
    )
    log.warning("autopilot %s: rolled back %s to %s", autopilot["id"], live, before)
    return True
