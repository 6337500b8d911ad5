"""The sweeper: no job stays active with nothing left to carry it on.

A job is orphaned when it is queued or running, yet no message names it (none waiting in a
queue, none delivered and unacknowledged) and no runner holds a lease of any of its stages.
That happens when a message is lost: Redis restarted without its append-only file, or
refused the next stage's message while it was full. A job seen orphaned on two sweeps at
least `confirm` seconds apart is sent again from its start (stages already done pass their
turn at once); a stage sent again `max_redrives` times without finishing ends the job
`failed` with `stage_timed_out`.

A paused job is never sent again: it waits for its resume. A pausing job orphaned the same way
(its runner died before it stopped at its pause) is settled paused instead of sent again.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tuneloop import contracts, graph
from tuneloop.contracts import FILE_ERROR
from tuneloop.pipeline.runner import Limits, fail
from tuneloop.store import Store
from tuneloop.store.sweeps import SweepStore

log = logging.getLogger(__name__)
RECHECK_AFTER = 300.0  # seconds a file may wait for its check before it is sent again
MAX_CHECK_SENDS = 3  # checks sent again before the file is settled as error


def pending_stages(done: set[str], kind: str = graph.FINE_TUNING) -> list[str]:
    """Return the stages not done whose prerequisites are all done, in pipeline order."""
    return [
        stage
        for stage in graph.stages_of(kind)
        if stage not in done and all(p in done for p in graph.NEEDS[stage])
    ]


@dataclass
class Outcome:
    """What one sweep did."""

    redriven: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    suspected: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)  # pausing jobs settled paused


def sweep(
    store: Store,
    sweeps: SweepStore,
    send: Callable[[str, str], None],
    queues: list[str],
    confirm: float,
    max_redrives: int,
    limits: Limits,
    now: Callable[[], float] = time.time,
    send_check: Callable[[str], None] | None = None,
) -> Outcome:
    """Find orphaned jobs; send confirmed ones again (send(job_id, kind)) or end them timed
    out; settle confirmed pausing ones paused.

    The first sweep of a Redis also lets the bulk data of jobs that failed before it expired
    expire (Store.expire_ended_jobs_once); every sweep takes bulk data that has expired out of
    its project's usage (JobStore.settle_expired).
    """
    store.expire_ended_jobs_once()
    store.jobs.settle_expired(now())
    if send_check is not None:
        recheck_files(store, send_check, now())
    outcome = Outcome()
    pausing = set(sweeps.pausing_jobs())
    watched = [*sweeps.active_jobs(), *sorted(pausing)]
    carried = sweeps.with_messages(watched, queues) | sweeps.leased(watched)
    orphans = [jid for jid in watched if jid not in carried]
    seen = sweeps.suspects()
    sweeps.clear([jid for jid in seen if jid not in orphans])
    sweeps.suspect(orphans, now())
    for jid in orphans:
        if now() - seen.get(jid, now()) < confirm:
            outcome.suspected.append(jid)
            continue
        if jid in pausing:
            _settle(store, jid, outcome)
        else:
            _redrive(store, sweeps, send, jid, max_redrives, limits, outcome)
        sweeps.clear([jid])
    return outcome


def _settle(store: Store, jid: str, outcome: Outcome) -> None:
    """Settle a pausing job whose runner is gone as paused (its parts are not in flight either:
    a part's message would have named it)."""
    why = "its runner was gone before it stopped (no lease and no message left)"
    if store.jobs.settle_pause(jid, why, check_parts=False) == "settled":
        store.pin_paused_job(jid)
        log.warning("job %s: pausing with nothing carrying it on; settled paused", jid)
        outcome.paused.append(jid)


def recheck_files(store: Store, send_check: Callable[[str], None], at: float) -> list[str]:
    """Send the check again of files still `uploaded` RECHECK_AFTER s after their upload (its
    message lost, or its task failed), at most MAX_CHECK_SENDS times; then settle the file as
    error, its bytes dropped. Return the files sent again."""
    sent = []
    for fid in store.files.stale_uploads(at - RECHECK_AFTER):
        if store.files.count_check_send(fid) > MAX_CHECK_SENDS:
            give_up(store, fid)
            continue
        send_check(fid)
        sent.append(fid)
    return sent


def give_up(store: Store, fid: str) -> None:
    """Settle a file whose check never finished as error (no bytes kept)."""
    upload = store.files.pending(fid)
    if upload is None:
        return  # settled or deleted meanwhile
    details = (
        f"the file's check did not finish after it was sent {MAX_CHECK_SENDS + 1} times; "
        "upload the file again"
    )
    tuneloop = {**upload.record["tuneloop"], "stored_bytes": 0}
    record = {**upload.record, "status": FILE_ERROR, "status_details": details}
    store.files.settle(upload, {**record, "tuneloop": tuneloop}, None)


def _redrive(
    store: Store,
    sweeps: SweepStore,
    send: Callable[[str, str], None],
    jid: str,
    max_redrives: int,
    limits: Limits,
    outcome: Outcome,
) -> None:
    """Send an orphaned job again, or end it when a stage was sent again too often."""
    if store.jobs.status(jid) not in contracts.RUNNABLE:
        return  # paused (or ended) since it was seen orphaned: nothing to carry on
    kind = store.jobs.kind(jid)
    stages = pending_stages(store.jobs.steps_done(jid), kind) or [graph.last(kind)]
    counts = {stage: sweeps.count_redrive(jid, stage) for stage in stages}
    worn = [stage for stage, n in counts.items() if n > max_redrives]
    if worn:
        stage = worn[0]
        message = (
            f"{stage} went silent: no runner and no message carried it on, "
            f"{max_redrives} times after it was sent again"
        )
        fail(store, jid, stage, "stage_timed_out", message, limits)
        outcome.timed_out.append(jid)
        return
    n = max(counts.values())
    store.jobs.add_event(
        jid,
        f"redriven:{','.join(stages)}:{n}",
        "stage.redriven",
        f"{', '.join(stages)}: no runner and no message left; sent again ({n} of {max_redrives})",
        {"stages": stages, "redrive": n},
        level="warning",
    )
    send(jid, kind)
    log.warning("job %s: orphaned at %s; sent again (%d)", jid, ", ".join(stages), n)
    outcome.redriven.append(jid)
