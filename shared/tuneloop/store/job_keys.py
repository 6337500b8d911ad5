"""Every key a job's id names, in one place: what job scripts start with, what is deleted with
the job, and what a failed or cancelled job lets expire.

Beside these, a job is named (as a member, not a key) in the job list, one status index, its
owner's index, the sweeper's suspects and the jobs set of each file it uses; its artifacts
are the members of its artifact index, a blob artifact's chunks are in its manifest.
"""

from tuneloop import contracts
from tuneloop.stages.compare import CASE_LISTS
from tuneloop.store import keys

# The KEYS every job script starts with (head), as lua/include/job_keys.lua reads them: each
# status's index at its slot, then the script's own keys from AFTER_INDEXES on.
_FIRST_INDEX = 3
JOB_KEYS = {
    "INDEX_SLOTS": {s: _FIRST_INDEX + i for i, s in enumerate(contracts.STATUSES)},
    "AFTER_INDEXES": _FIRST_INDEX + len(contracts.STATUSES),
}


def head(jid: str) -> list[str]:
    """The keys every job script starts with: the job, the job list, the status indexes."""
    return [keys.job(jid), keys.JOBS, *(keys.job_status_index(s) for s in contracts.STATUSES)]


def bulk(jid: str) -> list[str]:
    """A job's bulk data beside its artifacts: its eval set and its case lists.

    A failed or cancelled job lets these expire (its record and events stay).
    """
    return [keys.job_eval_set(jid), *(keys.job_cases(jid, o) for o in CASE_LISTS)]


def leases(jid: str) -> list[str]:
    """The lease key of every stage of every pipeline, in contracts.STAGES order."""
    return [keys.lease(jid, stage) for stage in contracts.STAGES]


def owned(jid: str) -> list[str]:
    """Every key named from the job's id alone, but its hash, artifact index and leases.

    The parts of every stage are named, not only of the fanned-out ones: unlinking a key that
    does not exist costs nothing, and a stage fanned out later is covered.
    """
    parts = [
        name
        for stage in contracts.STAGES
        for name in (keys.job_parts_done(jid, stage), keys.job_part_runs(jid, stage))
    ]
    return [
        keys.job_events(jid),
        keys.job_event_keys(jid),
        keys.job_steps(jid),
        keys.job_deliveries(jid),
        *bulk(jid),
        *parts,
    ]
