--#include job_status
--#include budget
--#include model_size
-- Delete a fine-tuned model in one step: its description, its listings, its manifest and the
-- manifest's chunks, unless its job has not ended (the model may still be evaluated and
-- promoted) or an alias names it; its bytes leave its project's usage in the same step. KEYS:
-- the description, the model list, the manifest, the hash of the job that made it, the
-- project's model list, the project's usage, the n alias keys, then the manifest's chunks as
-- the caller read them. ARGV: the model id, the manifest as read ('' for none), n, the n alias
-- names. Returns {'deleted'}, {'missing'}, {'active', the job's status}, {'aliased', alias
-- name}, or {'changed'} when the manifest is no longer the one read (read again).
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local status = job_status(KEYS[4])
if status and not ended(status) then return {'active', status} end
local n = tonumber(ARGV[3])
for i = 1, n do
  local target = redis.call('GET', KEYS[6 + i])
  if target then
    local named = cjson.decode(target)
    if named.model_id == ARGV[1] then return {'aliased', ARGV[3 + i]} end
    local before = named.previous
    if type(before) == 'table' and before.model_id == ARGV[1] then
      return {'aliased', ARGV[3 + i] .. ' (as the model it rolls back to)'}
    end
  end
end
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[2] then return {'changed'} end
count(KEYS[6], 'models', -model_size(KEYS[3]), -1)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('UNLINK', KEYS[1], KEYS[3])
for i = 7 + n, #KEYS do redis.call('UNLINK', KEYS[i]) end
return {'deleted'}
