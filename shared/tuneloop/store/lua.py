"""Lua scripts of the job store, and the pieces several scripts share.

Every key a script touches arrives in KEYS (names come from tuneloop.store.keys), and every
status name from tuneloop.contracts.
"""

from tuneloop import contracts


def _lua_set(names: frozenset[str] | tuple[str, ...]) -> str:
    return "{" + ", ".join(f"['{name}'] = true" for name in sorted(names)) + "}"


# job_status(key) -> the job's status, or nil when there is no such job; ended(status) -> true
# for the final statuses. Scripts that act "only while the job is active" use both.
JOB_STATUS = f"""
local function job_status(key)
  local raw = redis.call('HGET', key, 'status')
  if not raw then return nil end
  return cjson.decode(raw)
end
local TERMINAL = {_lua_set(contracts.TERMINAL)}
local function ended(status)
  return TERMINAL[status] == true
end
"""

# The job scripts take KEYS[1] the job's hash, KEYS[2] the job list (scored by the job's
# sequence number), then one per-status index per contracts.STATUSES, in that order.
INDEX_BASE = 3
_INDEX = ", ".join(
    f"['{status}'] = KEYS[{INDEX_BASE + i}]" for i, status in enumerate(contracts.STATUSES)
)
# move(jid, old, new): a status change moves the job between the per-status indexes.
MOVE_INDEX = f"""
local INDEX = {{{_INDEX}}}
local function move(jid, old, new)
  local seq = redis.call('ZSCORE', KEYS[2], jid)
  if seq and old ~= new then
    redis.call('ZREM', INDEX[old], jid)
    redis.call('ZADD', INDEX[new], seq, jid)
  end
end
"""
AFTER_INDEXES = INDEX_BASE + len(contracts.STATUSES)  # the first KEYS slot after them

# update_if_active(first): set the field/value pairs from ARGV[first] on, only while the job
# is not finished, so a late or repeated stage can never resurrect a failed, cancelled or
# succeeded job. Returns 1 when set, 0 when the job has ended, -1 when there is no such job.
_UPDATE = (
    JOB_STATUS
    + MOVE_INDEX
    + """
local function update_if_active(first)
  local status = job_status(KEYS[1])
  if not status then return -1 end
  if ended(status) then return 0 end
  for i = first, #ARGV, 2 do
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    if ARGV[i] == 'status' then move(ARGV[1], status, cjson.decode(ARGV[i + 1])) end
  end
  return 1
end
"""
)
# ARGV: the job id, then field/value pairs.
UPDATE_IF_ACTIVE = _UPDATE + "return update_if_active(2)\n"
# The same, and in the same step (only when the fields were set) a value under the key after
# the indexes: a job succeeds and its model becomes an alias's target together, or neither.
# ARGV: the job id, the value, then field/value pairs.
UPDATE_AND_SET_IF_ACTIVE = (
    _UPDATE
    + f"""
local done = update_if_active(3)
if done == 1 then redis.call('SET', KEYS[{AFTER_INDEXES}], ARGV[2]) end
return done
"""
)

# Cancel is final: the status changes and any model the job published is withdrawn in the
# same step (publication is refused once the status is final, see store/models.py). After
# the indexes: the model list, then the description key of the model the caller read on the
# job (or any key when none). ARGV: the job id, the time, that model id ('' when none).
# Returns {1, model id or false} when cancelled, {0, false} when the job had ended, and
# {-1, model id} when the job's model is not the one the caller read: read again and retry.
CANCEL = (
    JOB_STATUS
    + MOVE_INDEX
    + f"""
local status = job_status(KEYS[1])
if not status or ended(status) then return {{0, false}} end
local mid = redis.call('HGET', KEYS[1], 'model_id')
mid = (mid and mid ~= 'null') and cjson.decode(mid) or ''
if mid ~= ARGV[3] then return {{-1, mid}} end
redis.call('HSET', KEYS[1], 'status', cjson.encode('{contracts.CANCELLED}'), 'finished_at', ARGV[2])
move(ARGV[1], status, '{contracts.CANCELLED}')
if mid == '' then return {{1, false}} end
redis.call('DEL', KEYS[{AFTER_INDEXES + 1}])
redis.call('ZREM', KEYS[{AFTER_INDEXES}], mid)
redis.call('HSET', KEYS[1], 'model_id', 'null')
return {{1, mid}}
"""
)

# Create a job unless its owner is at a quota. After the indexes: the job's eval-set list,
# the owner's set of jobs, the interaction sequence. ARGV: the job id, max stored, max active
# (0: no limit), the sequence number, n, then the n chunks of the eval set, then the record's
# field/value pairs. The job and its eval set are written together or not at all. A null
# snapshot_seq becomes the interaction sequence's value in the same step, so a job is never
# queued with a snapshot older than what reclaiming old versions already dropped.
CREATE = f"""
local INDEX = {{{_INDEX}}}
local eval_set, owned = KEYS[{AFTER_INDEXES}], KEYS[{AFTER_INDEXES + 1}]
if tonumber(ARGV[2]) > 0 and redis.call('ZCARD', owned) >= tonumber(ARGV[2]) then
  return 'stored'
end
if tonumber(ARGV[3]) > 0 then
  local active = 0
  for _, index in ipairs({{INDEX['{contracts.QUEUED}'], INDEX['{contracts.RUNNING}']}}) do
    for _, jid in ipairs(redis.call('ZRANGE', index, 0, -1)) do
      if redis.call('ZSCORE', owned, jid) then active = active + 1 end
    end
  end
  if active >= tonumber(ARGV[3]) then return 'active' end
end
local n = tonumber(ARGV[5])
if n > 0 then redis.call('RPUSH', eval_set, unpack(ARGV, 6, 5 + n)) end
for i = 6 + n, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if redis.call('HGET', KEYS[1], 'snapshot_seq') == 'null' then
  redis.call('HSET', KEYS[1], 'snapshot_seq', redis.call('GET', KEYS[{AFTER_INDEXES + 2}]) or '0')
end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('ZADD', INDEX['{contracts.QUEUED}'], ARGV[4], ARGV[1])
redis.call('ZADD', owned, ARGV[4], ARGV[1])
return 'created'
"""

# Set one field of a job's hash (ARGV: field, value) only once the job has ended; returns 1
# when set. KEYS: the job's hash.
SET_IF_ENDED = (
    JOB_STATUS
    + """
local status = job_status(KEYS[1])
if not status or not ended(status) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""
)

SET_IF_NULL = """
if redis.call('HGET', KEYS[1], ARGV[1]) == 'null' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
"""
ADD_EVENT_ONCE = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return false end
return redis.call('XADD', KEYS[1], '*', 'event', ARGV[2])
"""

# Record a step of a stage in one round trip, only while the job has not ended and ARGV[1]
# still holds the stage's lease. KEYS: the job's hash, the lease, the event stream, the set
# of event keys, the set of steps done. ARGV: holder, event key, event body, step. Returns 1
# when recorded (the event once per key, the step counted), 0 when the job has ended, -1
# when the lease is another runner's (or gone).
RECORD_STEP_IF_HELD = (
    JOB_STATUS
    + """
local status = job_status(KEYS[1])
if status and ended(status) then return 0 end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
if redis.call('SADD', KEYS[4], ARGV[2]) == 1 then
  redis.call('XADD', KEYS[3], '*', 'event', ARGV[3])
end
redis.call('SADD', KEYS[5], ARGV[4])
return 1
"""
)
