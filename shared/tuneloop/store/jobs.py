"""Jobs: the record and its lifecycle, the status indexes and quotas.

Reading a job for its HTTP answer (kept answer, digest, rate-limit windows) is AnswerCache's
(store/answer_cache.py), its durable event log JobEvents' (store/job_events.py), deleting it
JobDeletion's (store/job_delete.py), starting a stage, pausing and resuming it JobPauses'
(store/job_pause.py); the record's fields and eval-set encoding are
store/job_record.py's, the keys its id names store/job_keys.py's.
"""

import json
from dataclasses import dataclass

from redis import Redis

from tuneloop import contracts, graph
from tuneloop.store import budget as budgets
from tuneloop.store import ids, job_keys, job_record, keys, paging, prefixes, scripts
from tuneloop.store.answer_cache import AnswerCache
from tuneloop.store.budget import NO_BUDGET, Budget
from tuneloop.store.job_delete import JobDeletion
from tuneloop.store.job_events import JobEvents
from tuneloop.store.job_pause import JobPauses
from tuneloop.timeutil import now

UPDATE_IF_ACTIVE = scripts.source("job_update_if_active", **job_keys.JOB_KEYS)
UPDATE_AND_SET_IF_ACTIVE = scripts.source("job_update_and_set_if_active", **job_keys.JOB_KEYS)
CANCEL = scripts.source("job_cancel", **job_keys.JOB_KEYS)
CREATE = scripts.source("job_create", **job_keys.JOB_KEYS)
FAIL = scripts.source("job_fail", **job_keys.JOB_KEYS)
# A failed or cancelled job lets its bulk data expire; a succeeded one keeps it (its report).
EXPIRING = frozenset({contracts.FAILED, contracts.CANCELLED})
EXPIRE_BULK = scripts.source("job_expire_bulk", EXPIRING=EXPIRING)
SETTLE = scripts.source("job_settle")
ENDED_TTL = 7 * 86400  # seconds a failed or cancelled job keeps its bulk data (0: for ever)
DEFAULT_JSON = json.dumps(keys.DEFAULT_PROJECT)  # the project of a job stored before projects


@dataclass(frozen=True)
class Quota:
    """How many jobs one project may have: stored at all, and not yet ended."""

    max_stored: int = 0  # 0: no limit
    max_active: int = 0


class QuotaExceeded(Exception):  # noqa: N818 - a refusal, answered 429
    """The project is at a quota; kind is "stored" or "active"."""

    def __init__(self, kind: str, limit: int) -> None:
        super().__init__(kind, limit)
        self.kind, self.limit = kind, limit


class JobStore(AnswerCache, JobEvents, JobDeletion, JobPauses):
    """Job records as Redis hashes of JSON values, with AnswerCache's reads, JobEvents' log,
    JobDeletion's deletes and JobPauses' stage starts, pauses and resumes.

    ended_ttl: seconds a failed or cancelled job keeps its bulk data after its end (0: for ever).
    Given a project, it is that project's view: its jobs are created in the project, listed
    from its list, and another project's job reads as no job. Without one (the workers), every
    job is seen.
    """

    def __init__(
        self,
        redis: Redis,
        ended_ttl: int = ENDED_TTL,
        project: str | None = None,
        budget: Budget = NO_BUDGET,
    ) -> None:
        AnswerCache.__init__(self, redis, project)
        JobEvents.__init__(self, redis)
        JobDeletion.__init__(self, redis)
        JobPauses.__init__(self, redis)
        if ended_ttl < 0:
            raise ValueError(f"a failed job's data cannot expire {ended_ttl} s after its end")
        self.redis, self.ended_ttl = redis, ended_ttl
        self.project, self.budget = project, budget
        self.space = keys.Space(project or keys.DEFAULT_PROJECT)
        self._update = redis.register_script(UPDATE_IF_ACTIVE)
        self._update_and_set = redis.register_script(UPDATE_AND_SET_IF_ACTIVE)
        self._cancel = redis.register_script(CANCEL)
        self._create = redis.register_script(CREATE)
        self._fail = redis.register_script(FAIL)
        self._expire_bulk = redis.register_script(EXPIRE_BULK)
        self._settle = redis.register_script(SETTLE)

    def create(
        self,
        request: dict,
        snapshot_seq: int | None,
        total_steps: int,
        owner: str = "",
        quota: Quota = Quota(),
        kind: str = graph.FINE_TUNING,
        jid: str | None = None,
        autopilot_id: str | None = None,
    ) -> dict:
        """Store a new queued job of kind in the project; QuotaExceeded when it is at a quota,
        BudgetExceeded when its eval set would take it past its byte budget.

        jid: an id minted ahead (an autopilot's claim names its run's job before storing it);
        autopilot_id: the autopilot the job is a run of.

        The request's eval set is kept under its own key; the record keeps only its size.
        snapshot_seq None: the interactions' sequence number, read in the same step.
        """
        jid = jid or ids.new_job(kind)
        cases = request.get("eval_set") or []
        chunks = job_record.encode_eval_set(cases)
        request = {k: v for k, v in request.items() if k not in ("eval_set", "eval_set_size")}
        if cases:
            request["eval_set_size"] = len(cases)
        record = {
            "id": jid,
            "object": contracts.JOB_KINDS[kind].object,
            "kind": kind,
            "status": contracts.QUEUED,
            "stage": None,
            "created_at": now(),
            "started_at": None,
            "finished_at": None,
            "request": request,
            "result": None,
            "error": None,
            "snapshot_seq": snapshot_seq,
            "total_steps": total_steps,
            "model_id": None,
            "hyperparameters": request.get("hyperparameters"),
            "owner": owner,
            "project": self.space.project,
            "autopilot_id": autopilot_id,
        }
        seq = self.redis.incr(keys.JOB_SEQ)
        head = [jid, quota.max_stored, quota.max_active, seq, self.budget.max_bytes, len(chunks)]
        fields = [a for k, v in record.items() for a in (k, json.dumps(v))]
        outcome = self._create(
            keys=[
                *job_keys.head(jid),
                keys.job_eval_set(jid),
                self.space.jobs,
                self.space.interaction_seq,
                keys.jobs_of_owner(owner),
                self.space.usage,
            ],
            args=[*head, *chunks, *fields],
        )
        budgets.raise_if_over(outcome)
        if outcome != "created":
            limit = quota.max_stored if outcome == "stored" else quota.max_active
            raise QuotaExceeded(outcome, limit)
        return self.get(jid)

    def get(self, jid: str, eval_set: bool = False) -> dict | None:
        """Return a job with its progress, or None when there is no such job.

        Its request shows the eval set's size; the cases themselves only when eval_set is true.
        """
        pipe = self.redis.pipeline(transaction=False)  # reads must work at maxmemory too
        pipe.hmget(keys.job(jid), job_record.FIELDS).scard(keys.job_steps(jid))
        pipe.hgetall(keys.job_deliveries(jid))
        if eval_set:
            pipe.lrange(keys.job_eval_set(jid), 0, -1)
        values, done, deliveries, *listed = pipe.execute()
        if values[0] is None or not self._sees(values[job_record.PROJECT]):
            return None
        return job_record.job(values, done, deliveries, listed[0] if listed else None)

    def _sees(self, project: str | None) -> bool:
        """Whether this view sees a job of project (its JSON as the hash holds it)."""
        return self.project is None or (project or DEFAULT_JSON) == self._project

    def project_of(self, jid: str) -> str:
        """Return the project a job belongs to (default for one stored before projects)."""
        raw = self.redis.hget(keys.job(jid), "project")
        return json.loads(raw) if raw else keys.DEFAULT_PROJECT

    def active_snapshots(self) -> list[int]:
        """Return the snapshot numbers of this view's jobs not yet ended (a paused one too: it
        trains on its snapshot when resumed)."""
        pipe = self.redis.pipeline(transaction=True)  # one moment: a job moving is seen once
        for status in contracts.ACTIVE:
            pipe.zrange(keys.job_status_index(status), 0, -1)
        jids = [jid for listed in pipe.execute() for jid in listed]
        pipe = self.redis.pipeline(transaction=False)
        for jid in jids:
            pipe.hmget(keys.job(jid), ["snapshot_seq", "project"])
        return [
            int(json.loads(raw))
            for raw, project in pipe.execute()
            if raw not in (None, "null") and self._sees(project)
        ]

    def has_eval_set(self, jid: str) -> bool:
        """Return whether the job's eval set is stored (without reading it)."""
        return bool(self.redis.exists(keys.job_eval_set(jid)))

    def eval_set(self, jid: str) -> list[dict] | None:
        """Return the cases the job was created with; None without an eval set or a job."""
        job = self.get(jid, eval_set=True)
        return job["request"].get("eval_set") if job else None

    def page(
        self,
        limit: int,
        after: str | None = None,
        status: str | None = None,
        kind: str | None = None,
    ) -> tuple[list[dict], bool]:
        """Return up to limit jobs (of a status, of a kind) after the cursor, newest first.

        With a status, only that status's index is read (not every job); a job whose status
        changed since it was indexed is passed over.
        """
        listed = self.space.jobs if self.project else keys.JOBS
        start = paging.start_after(self.redis, listed, after, reverse=True)
        if status is not None:
            self.index_jobs_from_before_the_status_index()
        index = keys.job_status_index(status) if status else listed
        ids = paging.ids_from(self.redis, index, start, "-inf", reverse=True, batch=200)
        batches = ([j for j in map(self.get, chunk) if j is not None] for chunk in ids)
        return paging.first_page(
            batches,
            limit,
            lambda j: status in (None, j["status"]) and kind in (None, j["kind"]),
        )

    def with_prefix(self, prefix: str, cap: int = 10) -> prefixes.Matches:
        """Return this view's jobs starting with prefix (newest first, up to cap)."""
        return prefixes.with_prefix(
            self.redis, self.space.jobs if self.project else keys.JOBS, prefix, cap
        )

    def index_jobs_from_before_the_status_index(self) -> None:
        """Index, once, the jobs stored before status indexes existed (one pass over them)."""
        if self.redis.exists(keys.JOB_STATUS_INDEXED):
            return
        for chunk in paging.ids_from(self.redis, keys.JOBS, "-inf", "+inf", batch=500):
            pipe = self.redis.pipeline(transaction=False)
            for jid in chunk:
                pipe.hget(keys.job(jid), "status").zscore(keys.JOBS, jid)
            found = pipe.execute()
            pipe = self.redis.pipeline(transaction=False)
            for jid, raw, seq in zip(chunk, found[::2], found[1::2], strict=True):
                if raw is not None and seq is not None:
                    pipe.zadd(keys.job_status_index(json.loads(raw)), {jid: seq})
            pipe.execute()
        self.redis.set(keys.JOB_STATUS_INDEXED, 1)

    def count(self) -> int:
        """Return how many jobs this view sees."""
        return int(self.redis.zcard(self.space.jobs if self.project else keys.JOBS))

    def update_if_active(self, jid: str, **fields: object) -> bool:
        """Set fields unless the job has finished; return whether they were set."""
        return self._update(keys=job_keys.head(jid), args=[jid, *_pairs(fields)]) == 1

    def complete_step(self, jid: str, step: str) -> None:
        """Count one progress step as done (idempotent)."""
        self.redis.sadd(keys.job_steps(jid), step)

    def steps_done(self, jid: str) -> set[str]:
        """Return the progress steps done so far."""
        return set(self.redis.smembers(keys.job_steps(jid)))

    def kind(self, jid: str) -> str:
        """Return the job's kind: the pipeline it runs."""
        raw = self.redis.hget(keys.job(jid), "kind")
        return json.loads(raw) if raw else graph.FINE_TUNING

    def status(self, jid: str) -> str | None:
        """Return only the job's status (cheap enough to check every epoch)."""
        raw = self.redis.hget(keys.job(jid), "status")
        return json.loads(raw) if raw else None

    def cancel(self, jid: str) -> tuple[str | None, str | None]:
        """Cancel the job unless it has finished; return the status it was cancelled from (None:
        it had ended, nothing changed) and the model withdrawn.

        The withdrawn model's description and listing are gone; its bytes are the caller's
        to delete (Store.cancel_job does).
        """
        seen = ""  # the model id last read on the job; the script checks it is still that
        while True:
            meta = keys.model_meta(seen) if seen else keys.job(jid)
            manifest = keys.model(seen) if seen else keys.job(jid)
            space = keys.Space(self.project_of(jid))
            ended = now()
            done, mid, *was = self._cancel(
                keys=[
                    *job_keys.head(jid),
                    keys.MODELS,
                    meta,
                    space.models,
                    space.usage,
                    manifest,
                    keys.JOBS_EXPIRING,
                    *job_keys.bulk(jid),
                ],
                args=[jid, json.dumps(ended), seen, self._expiry(ended)],
            )
            if done != -1:
                return (was[0] if was else None), mid or None
            seen = mid  # published meanwhile: withdraw that one

    def fail(self, jid: str, stage: str, code: str, message: str) -> bool:
        """End the job as failed in stage with an error code; its bulk data expires in the same
        step (ended_ttl after its end). Return whether it was still active."""
        error = {"code": code, "message": message, "stage": stage}
        ended = now()
        fields = {"status": contracts.FAILED, "stage": stage, "error": error, "finished_at": ended}
        names = [*job_keys.head(jid), keys.JOBS_EXPIRING, *job_keys.bulk(jid)]
        return self._fail(keys=names, args=[jid, self._expiry(ended), *_pairs(fields)]) == 1

    def expire_bulk(self, jid: str) -> int:
        """Let a failed or cancelled job's bulk data expire when its end set (again: for what
        was written after it); return that Unix time, 0 for another job or with no TTL."""
        names = [keys.job(jid), keys.JOBS_EXPIRING, *job_keys.bulk(jid)]
        return int(self._expire_bulk(keys=names, args=[self.ended_ttl, jid]))

    def settle_expired(self, at: float, limit: int = 200) -> int:
        """Take the bulk data of failed or cancelled jobs that expired by at out of their
        projects' usage; return the bytes taken out."""
        settled = 0
        for jid in self.redis.zrangebyscore(keys.JOBS_EXPIRING, "-inf", at, start=0, num=limit):
            space = keys.Space(self.project_of(jid))
            settled += int(
                self._settle(
                    keys=[
                        keys.JOBS_EXPIRING,
                        keys.job(jid),
                        space.usage,
                        *job_keys.bulk(jid),
                    ],
                    args=[jid],
                )
            )
        return settled

    def _expiry(self, ended: int | None) -> int:
        """The Unix time the bulk data of a job that ended at ended expires (0: never)."""
        return ended + self.ended_ttl if self.ended_ttl > 0 and ended else 0

    def succeed(self, jid: str, result: dict, alias: tuple[str, dict] | None = None) -> bool:
        """End the job as succeeded with its result; return whether it was still active.

        With an alias (name, target such as {model_id, job_id}) the alias is pointed at the
        target in the same step, stamped promoted_at (the job's finished_at); an ended job
        sets neither.
        """
        finished = now()
        fields = {"status": contracts.SUCCEEDED, "result": result, "finished_at": finished}
        if alias is None:
            return self.update_if_active(jid, **fields)
        name, target = alias
        value = json.dumps({**target, "promoted_at": finished})
        alias_key = keys.Space(self.project_of(jid)).model_alias(name)
        done = self._update_and_set(
            keys=[*job_keys.head(jid), alias_key], args=[jid, value, *_pairs(fields)]
        )
        return done == 1


def _pairs(fields: dict) -> list[str]:
    """Return fields as the field, JSON value, ... arguments the job scripts take."""
    return [a for k, v in fields.items() for a in (k, json.dumps(v))]
