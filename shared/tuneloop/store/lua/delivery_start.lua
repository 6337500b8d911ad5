-- Count a start of a stage once per token, while the job exists (a stage that read the job
-- before it was deleted writes nothing back). KEYS: the deliveries hash, the job's hash; ARGV
-- stage, token. Returns {starts, starts that never ended - 1}, {0, -1} without the job.
if redis.call('EXISTS', KEYS[2]) == 0 then return {0, -1} end
local open = ARGV[1] .. ':open:' .. ARGV[2]
if redis.call('HSETNX', KEYS[1], open, 1) == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':started', 1)
end
local started = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':started'))
local ended = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':ended') or '0')
return {started, started - ended - 1}
