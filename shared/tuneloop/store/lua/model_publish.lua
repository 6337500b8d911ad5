--#include job_status
--#include budget
--#include model_size
-- Publish a model only while its job is active and this runner still holds the stage's
-- lease (the fencing token): a cancelled job or a runner that lost its lease publishes nothing.
-- KEYS: the job's hash, the lease, the model's description, the model list, the model's
-- manifest, the job's project's model list, the project's usage. ARGV: ..., the model's size
-- in bytes, the byte budget. ARGV: holder, description, model id, its score in the list, the manifest.
-- Returns {1, the manifest replaced or false}, {0, false} when the job has ended, {-1, false}
-- when the lease is another runner's, or the budget's refusal when the model would take the
-- project past it.
local status = job_status(KEYS[1])
if not status or ended(status) then return {0, false} end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {-1, false} end
local old = redis.call('GET', KEYS[5])
local grown = tonumber(ARGV[6]) - model_size(KEYS[5])  -- a redelivered publish replaces one
local over = over_budget(KEYS[7], grown, ARGV[7])
if over then return over end
count(KEYS[7], 'models', grown, old and 0 or 1)
redis.call('SET', KEYS[5], ARGV[5])
redis.call('SET', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
redis.call('ZADD', KEYS[6], ARGV[4], ARGV[3])
redis.call('HSET', KEYS[1], 'model_id', cjson.encode(ARGV[3]))
return {1, old}
