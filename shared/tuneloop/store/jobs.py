"""Fine-tuning jobs: the record, its progress and its durable event log."""

import json
import uuid
from dataclasses import dataclass

from redis import Redis

from tuneloop import contracts
from tuneloop.store import keys, paging
from tuneloop.store.lua import JOB_STATUS
from tuneloop.timeutil import now

# Update fields only while the job is not finished, so a late or repeated stage
# can never resurrect a failed, cancelled or succeeded job.
# A status change also moves the job between the per-status indexes (KEYS[2] is the job
# list, whose score is the job's sequence number; ARGV[1] the job id; ARGV[2] the prefix of
# the status indexes).
_MOVE_INDEX = """
local function move(old, new)
  local seq = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if seq and old ~= new then
    redis.call('ZREM', ARGV[2] .. old, ARGV[1])
    redis.call('ZADD', ARGV[2] .. new, seq, ARGV[1])
  end
end
"""
_UPDATE_IF_ACTIVE = (
    JOB_STATUS
    + _MOVE_INDEX
    + """
local status = job_status(KEYS[1])
if not status then return -1 end
if ended(status) then return 0 end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  if ARGV[i] == 'status' then move(status, cjson.decode(ARGV[i + 1])) end
end
return 1
"""
)
# Cancel is final: the status changes and any model the job published is withdrawn in the
# same step (publication is refused once the status is final, see store/models.py).
_CANCEL = (
    JOB_STATUS
    + _MOVE_INDEX
    + """
local status = job_status(KEYS[1])
if not status or ended(status) then return {0, false} end
redis.call('HSET', KEYS[1], 'status', cjson.encode('cancelled'), 'finished_at', ARGV[5])
move(status, 'cancelled')
local mid = redis.call('HGET', KEYS[1], 'model_id')
if mid and mid ~= 'null' then
  mid = cjson.decode(mid)
  redis.call('DEL', ARGV[3] .. mid)
  redis.call('ZREM', ARGV[4], mid)
  redis.call('HSET', KEYS[1], 'model_id', 'null')
  return {1, mid}
end
return {1, false}
"""
)
_SET_IF_NULL = """
if redis.call('HGET', KEYS[1], ARGV[1]) == 'null' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
"""
_ADD_EVENT_ONCE = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return false end
return redis.call('XADD', KEYS[1], '*', 'event', ARGV[2])
"""
# Create a job unless its owner is at a quota: ARGV[1] job id, ARGV[2] owner set key,
# ARGV[3] queued index, ARGV[4] running index, ARGV[5] max stored, ARGV[6] max active
# (0: no limit), ARGV[7] the sequence number, ARGV[8] n, then the n chunks of the eval set
# (pushed to the list KEYS[3]), then field/value pairs of the record. The job and its eval
# set are written together or not at all.
_CREATE = """
if tonumber(ARGV[5]) > 0 and redis.call('ZCARD', ARGV[2]) >= tonumber(ARGV[5]) then
  return 'stored'
end
if tonumber(ARGV[6]) > 0 then
  local active = 0
  for _, index in ipairs({ARGV[3], ARGV[4]}) do
    for _, jid in ipairs(redis.call('ZRANGE', index, 0, -1)) do
      if redis.call('ZSCORE', ARGV[2], jid) then active = active + 1 end
    end
  end
  if active >= tonumber(ARGV[6]) then return 'active' end
end
local n = tonumber(ARGV[8])
if n > 0 then redis.call('RPUSH', KEYS[3], unpack(ARGV, 9, 8 + n)) end
for i = 9 + n, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[1])
redis.call('ZADD', ARGV[3], ARGV[7], ARGV[1])
redis.call('ZADD', ARGV[2], ARGV[7], ARGV[1])
return 'created'
"""
MAX_STREAM_ID = f"{2**64 - 1}-{2**64 - 1}"
# Bytes of eval cases per element of the eval-set list (a JSON array): every element stays
# near 1 MiB, and a few large elements read back faster than one element a case.
EVAL_SET_CHUNK_BYTES = 1 << 20
_FIELDS = (
    "id",
    "object",
    "status",
    "stage",
    "created_at",
    "started_at",
    "finished_at",
    "request",
    "result",
    "error",
    "snapshot_seq",
    "total_steps",
    "model_id",
    "hyperparameters",
)


@dataclass(frozen=True)
class Quota:
    """How many jobs one owner (API key name) may have: stored at all, and not yet ended."""

    max_stored: int = 0  # 0: no limit
    max_active: int = 0


class QuotaExceeded(Exception):  # noqa: N818 - a refusal, answered 429
    """The owner is at a quota; kind is "stored" or "active"."""

    def __init__(self, kind: str, limit: int) -> None:
        super().__init__(kind, limit)
        self.kind, self.limit = kind, limit


class JobStore:
    """Job records as Redis hashes of JSON values."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._update = redis.register_script(_UPDATE_IF_ACTIVE)
        self._event = redis.register_script(_ADD_EVENT_ONCE)
        self._set_if_null = redis.register_script(_SET_IF_NULL)
        self._cancel = redis.register_script(_CANCEL)
        self._create = redis.register_script(_CREATE)

    def create(
        self,
        request: dict,
        snapshot_seq: int,
        total_steps: int,
        owner: str = "",
        quota: Quota = Quota(),
    ) -> dict:
        """Store a new queued job and return it; QuotaExceeded when its owner is at a quota.

        The request's eval set is kept under its own key; the record keeps only its size.
        """
        jid = f"ftjob-{uuid.uuid4().hex[:24]}"
        cases = request.get("eval_set") or []
        chunks = _chunks(cases)
        request = {k: v for k, v in request.items() if k not in ("eval_set", "eval_set_size")}
        if cases:
            request["eval_set_size"] = len(cases)
        record = {
            "id": jid,
            "object": "fine_tuning.job",
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
        }
        seq = self.redis.incr(keys.JOB_SEQ)
        head = [
            jid,
            keys.jobs_of_owner(owner),
            keys.job_status_index(contracts.QUEUED),
            keys.job_status_index(contracts.RUNNING),
            quota.max_stored,
            quota.max_active,
            seq,
            len(chunks),
        ]
        fields = [a for k, v in record.items() for a in (k, json.dumps(v))]
        outcome = self._create(
            keys=[keys.job(jid), keys.JOBS, keys.job_eval_set(jid)],
            args=[*head, *chunks, *fields],
        )
        if outcome != "created":
            limit = quota.max_stored if outcome == "stored" else quota.max_active
            raise QuotaExceeded(outcome, limit)
        return self.get(jid)

    def get(self, jid: str, eval_set: bool = False) -> dict | None:
        """Return a job with its progress, or None when there is no such job.

        Its request shows the eval set's size; the cases themselves only when eval_set is true.
        """
        pipe = self.redis.pipeline(transaction=False)  # reads must work at maxmemory too
        pipe.hmget(keys.job(jid), _FIELDS).scard(keys.job_steps(jid))
        pipe.hgetall(keys.job_deliveries(jid))
        if eval_set:
            pipe.lrange(keys.job_eval_set(jid), 0, -1)
        values, done, deliveries, *listed = pipe.execute()
        if values[0] is None:
            return None
        job = {
            k: json.loads(v) if v is not None else None
            for k, v in zip(_FIELDS, values, strict=True)
        }
        job["request"] = _with_eval_set(job["request"], listed[0] if listed else None)
        total = job.pop("total_steps") or 1
        current = min(int(done), total)
        job["progress"] = {
            "current": current,
            "total": total,
            "percent": round(100.0 * current / total, 1),
        }
        job["deliveries"] = {
            k.removesuffix(":started"): int(v)
            for k, v in sorted(deliveries.items())
            if k.endswith(":started")
        }
        return job

    def eval_set(self, jid: str) -> list[dict] | None:
        """Return the cases the job was created with; None without an eval set or a job."""
        job = self.get(jid, eval_set=True)
        return job["request"].get("eval_set") if job else None

    def page(
        self, limit: int, after: str | None = None, status: str | None = None
    ) -> tuple[list[dict], bool]:
        """Return up to limit jobs after the cursor, newest first, and has_more.

        With a status, only that status's index is read (not every job); a job whose status
        changed since it was indexed is passed over.
        """
        start = paging.start_after(self.redis, keys.JOBS, after, reverse=True)
        if status is not None:
            self._index_jobs_from_before_the_status_index()
        index = keys.job_status_index(status) if status else keys.JOBS
        ids = paging.ids_from(self.redis, index, start, "-inf", reverse=True, batch=200)
        batches = ([j for j in map(self.get, chunk) if j is not None] for chunk in ids)
        return paging.first_page(batches, limit, lambda j: status is None or j["status"] == status)

    def _index_jobs_from_before_the_status_index(self) -> None:
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

    def delete(self, jid: str) -> None:
        """Remove a job that was never queued, with everything stored for it."""
        owner = self.redis.hget(keys.job(jid), "owner")
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(keys.JOBS, jid)
        if owner is not None:
            pipe.zrem(keys.jobs_of_owner(json.loads(owner)), jid)
        for status in contracts.STATUSES:
            pipe.zrem(keys.job_status_index(status), jid)
        pipe.delete(keys.job(jid), keys.job_steps(jid), keys.job_events(jid))
        pipe.delete(keys.job_event_keys(jid), keys.job_deliveries(jid), keys.job_eval_set(jid))
        pipe.execute()

    def count(self) -> int:
        """Return how many jobs exist."""
        return int(self.redis.zcard(keys.JOBS))

    def update_if_active(self, jid: str, **fields: object) -> bool:
        """Set fields unless the job has finished; return whether they were set."""
        args = [a for k, v in fields.items() for a in (k, json.dumps(v))]
        head = [jid, keys.job_status_index("")]
        return self._update(keys=[keys.job(jid), keys.JOBS], args=[*head, *args]) == 1

    def start_stage(self, jid: str, stage: str) -> bool:
        """Mark the job running in stage; return False when the job has finished."""
        if not self.update_if_active(jid, status=contracts.RUNNING, stage=stage):
            return False
        self._set_if_null(keys=[keys.job(jid)], args=["started_at", json.dumps(now())])
        return True

    def complete_step(self, jid: str, step: str) -> None:
        """Count one progress step as done (idempotent)."""
        self.redis.sadd(keys.job_steps(jid), step)

    def steps_done(self, jid: str) -> set[str]:
        """Return the progress steps done so far."""
        return set(self.redis.smembers(keys.job_steps(jid)))

    def status(self, jid: str) -> str | None:
        """Return only the job's status (cheap enough to check every epoch)."""
        raw = self.redis.hget(keys.job(jid), "status")
        return json.loads(raw) if raw else None

    def cancel(self, jid: str) -> tuple[bool, str | None]:
        """Cancel the job unless it has finished; return whether it was, and the model withdrawn.

        The withdrawn model's description and listing are gone; its bytes are the caller's
        to delete (Store.cancel_job does).
        """
        args = [jid, keys.job_status_index(""), keys.model_meta(""), keys.MODELS]
        done, mid = self._cancel(keys=[keys.job(jid), keys.JOBS], args=[*args, json.dumps(now())])
        return bool(done), mid or None

    def fail(self, jid: str, stage: str, code: str, message: str) -> bool:
        """End the job as failed in stage with an error code."""
        error = {"code": code, "message": message, "stage": stage}
        return self.update_if_active(
            jid, status=contracts.FAILED, stage=stage, error=error, finished_at=now()
        )

    def succeed(self, jid: str, result: dict) -> bool:
        """End the job as succeeded with its result."""
        return self.update_if_active(
            jid, status=contracts.SUCCEEDED, result=result, finished_at=now()
        )

    def add_event(
        self,
        jid: str,
        key: str,
        type_: str,
        message: str,
        data: dict | None = None,
        level: str = "info",
    ) -> None:
        """Append an event once per key, so a redelivered stage adds no duplicate."""
        body = {
            "created_at": now(),
            "level": level,
            "type": type_,
            "message": message,
            "data": data or {},
        }
        self._event(
            keys=[keys.job_events(jid), keys.job_event_keys(jid)], args=[key, json.dumps(body)]
        )

    def events(self, jid: str, limit: int, after: str | None = None) -> tuple[list[dict], bool]:
        """Return up to limit events after the cursor, oldest first, and has_more."""
        if after == MAX_STREAM_ID:
            return [], False
        start = f"({after}" if after else "-"
        rows = self.redis.xrange(keys.job_events(jid), min=start, max="+", count=limit + 1)
        events = [
            {"id": eid, "object": "fine_tuning.job.event", **json.loads(f["event"])}
            for eid, f in rows
        ]
        return events[:limit], len(events) > limit


def _with_eval_set(request: dict, listed: list[str] | None) -> dict:
    """Show the request's eval set by its size, and by its cases when they were read (listed)."""
    inline = request.pop("eval_set", None)  # a job stored before eval sets had their own key
    if inline is not None:
        request["eval_set_size"] = len(inline)
    if listed is not None and request.get("eval_set_size"):
        request["eval_set"] = inline if inline is not None else _cases(listed)
    return request


def _chunks(cases: list[dict]) -> list[str]:
    """Encode cases as JSON arrays of about EVAL_SET_CHUNK_BYTES each, in order."""
    chunks: list[str] = []
    part: list[str] = []
    size = 0
    for case in cases:
        part.append(json.dumps(case))
        size += len(part[-1]) + 1
        if size >= EVAL_SET_CHUNK_BYTES:
            chunks.append(f"[{','.join(part)}]")
            part, size = [], 0
    return [*chunks, f"[{','.join(part)}]"] if part else chunks


def _cases(chunks: list[str]) -> list[dict]:
    """Return the cases of an eval set stored as JSON arrays, in order."""
    return [case for chunk in chunks for case in json.loads(chunk)]
