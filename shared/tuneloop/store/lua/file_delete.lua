--#include budget
-- Delete a file unless a job not yet ended uses it; its stored bytes leave its project's usage
-- in the same step. KEYS: the record, the manifest, the set of jobs using it, the index, the
-- project's index, the project's usage, the uploaded list, the sweeper's count of check
-- sends, the chunks the manifest names, then the hash of each
-- job in that set, all as the caller read them. ARGV: the file id, the SHA-1 of the manifest
-- as read ("" for none), the number of chunks, then those jobs' ids. Returns the id of an
-- active job that uses the file, "deleted", "missing", or "changed" when the manifest or the
-- set is no longer what the caller read (a check settled the file, or a job started using it).
local ACTIVE = {}
for _, status in ipairs({{ACTIVE}}) do ACTIVE[cjson.encode(status)] = true end
local record = redis.call('GET', KEYS[1])
if not record then return 'missing' end
if redis.sha1hex(redis.call('GET', KEYS[2]) or '') ~= ARGV[2] then return 'changed' end
local chunks = tonumber(ARGV[3])
if redis.call('SCARD', KEYS[3]) ~= #ARGV - 3 then return 'changed' end
for i = 4, #ARGV do
  if redis.call('SISMEMBER', KEYS[3], ARGV[i]) == 0 then return 'changed' end
  if ACTIVE[redis.call('HGET', KEYS[5 + chunks + i], 'status')] then
    return ARGV[i]
  end
end
local stored = (cjson.decode(record).tuneloop or {}).stored_bytes or 0
count(KEYS[6], 'files', -stored, -1)
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
for i = 9, 8 + chunks do redis.call('DEL', KEYS[i]) end
redis.call('ZREM', KEYS[7], ARGV[1])
redis.call('HDEL', KEYS[8], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
return 'deleted'
