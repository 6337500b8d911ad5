-- Delete a file unless a job not yet ended uses it. KEYS: the record, the content, the set of
-- jobs using it, the index, the project's index, then the hash of each job in that set as
-- the caller read it.
-- ARGV: the file id, then those jobs' ids. Returns the id of an active job that uses the file,
-- "deleted", "missing", or "changed" when the set is no longer what the caller read.
local ACTIVE = {}
for _, status in ipairs({{ACTIVE}}) do ACTIVE[cjson.encode(status)] = true end
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('SCARD', KEYS[3]) ~= #ARGV - 1 then return 'changed' end
for i = 2, #ARGV do
  if redis.call('SISMEMBER', KEYS[3], ARGV[i]) == 0 then return 'changed' end
  if ACTIVE[redis.call('HGET', KEYS[4 + i], 'status')] then
    return ARGV[i]
  end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
return 'deleted'
