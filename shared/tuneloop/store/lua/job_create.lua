--#include job_keys
--#include budget
-- Create a job unless its project is at a quota or its eval set would take the project past
-- its byte budget. After the indexes: the job's eval-set list, the project's list of jobs,
-- the project's interaction sequence, the owner's set of jobs, the project's usage. ARGV: the
-- job id, max stored, max active (0: no limit), the sequence number, the byte budget, n, then
-- the n chunks of the eval set, then the record's field/value pairs. The job and its eval set
-- are written together or not at all, and the eval set's bytes counted with them (kept on the
-- job as eval_set_bytes, for its delete). A null snapshot_seq becomes the interaction
-- sequence's value in the same step, so a job is never queued with a snapshot older than what
-- reclaiming old versions already dropped.
local eval_set, owned = KEYS[AFTER_INDEXES], KEYS[AFTER_INDEXES + 1]
local usage = KEYS[AFTER_INDEXES + 4]
if tonumber(ARGV[2]) > 0 and redis.call('ZCARD', owned) >= tonumber(ARGV[2]) then
  return 'stored'
end
if tonumber(ARGV[3]) > 0 then
  local active = 0
  for _, status in ipairs({{ACTIVE}}) do
    for _, jid in ipairs(redis.call('ZRANGE', KEYS[INDEX_SLOT[status]], 0, -1)) do
      if redis.call('ZSCORE', owned, jid) then active = active + 1 end
    end
  end
  if active >= tonumber(ARGV[3]) then return 'active' end
end
local n = tonumber(ARGV[6])
local bytes = 0
for i = 7, 6 + n do bytes = bytes + #ARGV[i] end
local over = over_budget(usage, bytes, ARGV[5])
if over then return over end
if n > 0 then
  redis.call('RPUSH', eval_set, unpack(ARGV, 7, 6 + n))
  count(usage, 'eval_sets', bytes, 1)
end
for i = 7 + n, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'eval_set_bytes', bytes)
if redis.call('HGET', KEYS[1], 'snapshot_seq') == 'null' then
  redis.call('HSET', KEYS[1], 'snapshot_seq', redis.call('GET', KEYS[AFTER_INDEXES + 2]) or '0')
end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[INDEX_SLOT[{{QUEUED}}]], ARGV[4], ARGV[1])
redis.call('ZADD', owned, ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[AFTER_INDEXES + 3], ARGV[4], ARGV[1])
return 'created'
