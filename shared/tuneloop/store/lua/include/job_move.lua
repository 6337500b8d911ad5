--#include job_keys
-- move(jid, old, new): a status change moves the job between the per-status indexes.
local function move(jid, old, new)
  local seq = redis.call('ZSCORE', KEYS[2], jid)
  if seq and old ~= new then
    redis.call('ZREM', INDEX[old], jid)
    redis.call('ZADD', INDEX[new], seq, jid)
  end
end
