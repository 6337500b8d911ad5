"""A job as the gateway answers it: read in one step, with its answer kept once it has ended.

One script (lua/job_read.lua) counts the request's rate-limit windows, then answers with an
ended job's kept answer while its stamp is current, or that the job's state still has the
digest the caller holds an answer for, or the job's raw fields. The stamp and the digest are
both made in that script; the gateway keeps an ended job's rendered answer with the stamp
its read returned (keep_document), so a late stage's step or delivery makes it stale.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass

from redis import Redis

from tuneloop.store import job_record, keys, ratelimit, scripts
from tuneloop.store.ratelimit import Window

# The field of an ended job's hash that keeps its rendered answer: status, result and the
# rest never change once the job has ended, so polls of a finished job are served without
# parsing and serializing every field again.
DOCUMENT = "document"
READ = scripts.source("job_read", FIELDS=job_record.FIELDS, STATUS_AT=job_record.STATUS + 1)
KEEP = scripts.source("job_keep_answer")


@dataclass(frozen=True)
class JobRead:
    """What a job's keys held at one read: its fields' raw values, steps done, deliveries.

    digest names that state: the job's answer is a function of it alone. stamp names what
    of it can still change once the job has ended (its steps and deliveries); '' while the
    job is active.
    """

    values: tuple[str | None, ...]
    done: int
    deliveries: tuple[tuple[str, str], ...]
    digest: str
    stamp: str

    @property
    def status(self) -> str:
        """The job's status."""
        return json.loads(self.values[job_record.STATUS])

    def job(self) -> dict:
        """The job, as JobStore.get returns it."""
        return job_record.job(list(self.values), self.done, dict(self.deliveries), None)


class Unchanged:
    """The job is in the state whose digest the reader already has an answer for."""


UNCHANGED = Unchanged()


class AnswerCache:
    """Reading a job for its HTTP answer, and keeping an ended job's answer (JobStore's part)."""

    def __init__(self, redis: Redis, project: str | None = None) -> None:
        self._project = json.dumps(project) if project else ""  # as the job's hash holds it
        self._read = redis.register_script(READ)
        self._keep = redis.register_script(KEEP)

    def read(
        self, jid: str, limit: Sequence[Window] = (), known: str = ""
    ) -> str | JobRead | Unchanged | None:
        """Read a job in one step: an ended job's kept answer (a str) while it is current;
        UNCHANGED when its state still has the digest known; else what the job's keys hold
        (JobRead); None when there is no such job, or it is another project's.

        The limit's windows are counted in the same step: RateLimitedError when one is used up.
        """
        outcome = self._read(
            keys=[
                keys.job(jid),
                keys.job_steps(jid),
                keys.job_deliveries(jid),
                *ratelimit.window_keys(limit),
            ],
            args=[
                DOCUMENT,
                known,
                self._project,
                *ratelimit.window_args(limit),
            ],
        )
        ratelimit.raise_if_over(outcome)
        match outcome[0]:
            case "kept":
                return outcome[1]
            case "same":
                return UNCHANGED
            case "none":
                return None
        _, values, done, flat, digest, stamp = outcome
        deliveries = tuple(zip(flat[0::2], flat[1::2], strict=True))
        return JobRead(tuple(values), int(done), deliveries, digest, stamp)

    def keep_document(self, jid: str, stamp: str, body: str) -> bool:
        """Keep an ended job's rendered answer with the stamp it was read at; False if active."""
        return bool(self._keep(keys=[keys.job(jid)], args=[DOCUMENT, f"{stamp}\n{body}"]))
