--#include job_keys
-- move(jid, old, new): a status change moves the job between the per-status indexes.
local function move(jid, old, new)
  local seq = redis.call('ZSCORE', KEYS[2], jid)
  if seq and old ~= new then
    redis.call('ZREM', KEYS[INDEX_SLOT[old]], jid)
    redis.call('ZADD', KEYS[INDEX_SLOT[new]], seq, jid)
  end
end
