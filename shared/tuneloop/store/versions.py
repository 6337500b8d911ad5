"""Versions of interactions, so an edit or a delete never changes a job's snapshot.

Every write takes the next number of the interaction sequence. An interaction's current
version is its record (its creation number is its score in the index; an edited one's current
number is in INTERACTION_BORN). An edit or a delete retires the current version: its body
moves to INTERACTION_BODIES under the ref "{id}@{number it was written at}", the ref is
scored by the interaction's creation number in INTERACTION_HISTORY (so a snapshot reads old
versions in the same order as live ones) and by the number that ended it in
INTERACTION_ENDED. The snapshot at S holds, per interaction created at or before S, the
version written at or before S and not ended at or before S: at most one.

A retired version is reclaimed once no queued or running job can need it (its end is at or
below every such job's snapshot number, see Store.reclaim_versions), a bounded number per
call; INTERACTION_RECLAIMED keeps the highest end and the lowest start of the versions
reclaimed so far: a snapshot between them (a finished job's) can no longer be read as it was.

Every key arrives in KEYS; refs and numbers are members and values, never key names.
"""

# retire(ref, created, seq, body): keep a version that seq ended. KEYS 6-8: history, ended,
# bodies. count_move(hash, from, to): one count moves (to '' only takes it away).
_COMMON = """
local function retire(ref, created, seq, body)
  redis.call('ZADD', KEYS[6], created, ref)
  redis.call('ZADD', KEYS[7], seq, ref)
  redis.call('HSET', KEYS[8], ref, body)
end
local function count_move(hash, from, to)
  if from == to then return end
  if redis.call('HINCRBY', hash, from, -1) <= 0 then redis.call('HDEL', hash, from) end
  if to ~= '' then redis.call('HINCRBY', hash, to, 1) end
end
local function current_ref(id)
  local created = redis.call('ZSCORE', KEYS[2], id)
  return id .. '@' .. (redis.call('HGET', KEYS[5], id) or created), created
end
"""

# KEYS: sequence, index, task counts, rating counts, born, history, ended, bodies, the record,
# the old task's index, the new task's index, the audit stream. ARGV: id, the body the caller
# read, the new body, old task, new task, old bucket, new bucket, the event, the stream's bound.
# Returns the new version's number, 0 when the record changed since it was read, -1 when gone.
EDIT = (
    _COMMON
    + """
local current = redis.call('GET', KEYS[9])
if not current then return -1 end
if current ~= ARGV[2] then return 0 end
local seq = redis.call('INCR', KEYS[1])
local ref, created = current_ref(ARGV[1])
retire(ref, created, seq, current)
redis.call('SET', KEYS[9], ARGV[3])
redis.call('HSET', KEYS[5], ARGV[1], seq)
if ARGV[4] ~= ARGV[5] then
  redis.call('ZREM', KEYS[10], ARGV[1])
  redis.call('ZADD', KEYS[11], created, ARGV[1])
  count_move(KEYS[3], ARGV[4], ARGV[5])
end
count_move(KEYS[4], ARGV[6], ARGV[7])
redis.call('XADD', KEYS[12], 'MAXLEN', ARGV[9], '*', 'event', ARGV[8])
return seq
"""
)

# KEYS: sequence, index, task counts, rating counts, born, history, ended, bodies, deleted,
# the record, its task's index, the audit stream. ARGV: id, the body the caller read, task,
# bucket, the event, the stream's bound, seconds the stream outlives the interaction.
DELETE = (
    _COMMON
    + """
local current = redis.call('GET', KEYS[10])
if not current then return -1 end
if current ~= ARGV[2] then return 0 end
local seq = redis.call('INCR', KEYS[1])
local ref, created = current_ref(ARGV[1])
retire(ref, created, seq, current)
redis.call('ZADD', KEYS[9], seq, ref)
redis.call('DEL', KEYS[10])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[11], ARGV[1])
count_move(KEYS[3], ARGV[3], '')
count_move(KEYS[4], ARGV[4], '')
redis.call('XADD', KEYS[12], 'MAXLEN', ARGV[6], '*', 'event', ARGV[5])
redis.call('EXPIRE', KEYS[12], ARGV[7])
return seq
"""
)

# Read one batch of the snapshot at S, atomically. KEYS: born, history, ended, bodies, then
# the records of the n live ids listed in (lo, hi]. ARGV: S, lo, hi, the n ids, their n
# creation numbers. Returns creation number, body, ... (live ones first, then old versions).
SNAPSHOT_BATCH = """#!lua flags=no-writes
local S = tonumber(ARGV[1])
local n = (#ARGV - 3) / 2
local out = {}
for i = 1, n do
  local body = redis.call('GET', KEYS[4 + i])
  if body then
    local created = ARGV[3 + n + i]
    local born = tonumber(redis.call('HGET', KEYS[1], ARGV[3 + i]) or created)
    if born <= S then
      out[#out + 1] = created
      out[#out + 1] = body
    end
  end
end
local old = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[2], ARGV[3], 'WITHSCORES')
for j = 1, #old, 2 do
  local ref = old[j]
  local born = tonumber(string.match(ref, '@(%d+)$'))
  local ended = tonumber(redis.call('ZSCORE', KEYS[3], ref))
  if born <= S and (not ended or ended > S) then
    out[#out + 1] = old[j + 1]
    out[#out + 1] = redis.call('HGET', KEYS[4], ref)
  end
end
return out
"""

# How many interactions the snapshot at S holds: the live ones created by S, and the deleted
# ones created by S and deleted after it. KEYS: index, deleted, history. ARGV: S.
SNAPSHOT_SIZE = """#!lua flags=no-writes
local S = tonumber(ARGV[1])
local n = redis.call('ZCOUNT', KEYS[1], '-inf', S)
for _, ref in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf')) do
  local created = tonumber(redis.call('ZSCORE', KEYS[3], ref))
  if created and created <= S then n = n + 1 end
end
return n
"""

# Drop up to ARGV[2] retired versions ended at or before ARGV[1]. KEYS: history, ended,
# bodies, deleted, reclaimed. Returns how many went.
RECLAIM = """
local refs = redis.call(
  'ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local top = tonumber(redis.call('HGET', KEYS[5], 'ended_max') or '0')
local low = tonumber(redis.call('HGET', KEYS[5], 'born_min') or '-1')
for i = 1, #refs, 2 do
  local born = tonumber(string.match(refs[i], '@(%d+)$'))
  if low < 0 or born < low then low = born end
  redis.call('ZREM', KEYS[1], refs[i])
  redis.call('ZREM', KEYS[2], refs[i])
  redis.call('HDEL', KEYS[3], refs[i])
  redis.call('ZREM', KEYS[4], refs[i])
  top = math.max(top, tonumber(refs[i + 1]))
end
if #refs > 0 then
  redis.call('HSET', KEYS[5], 'ended_max', string.format('%d', top))
  redis.call('HSET', KEYS[5], 'born_min', string.format('%d', low))
end
return #refs / 2
"""
