-- Record the end of an autopilot's run in flight: the newest run, when it is that job's, takes
-- the fields given, and the autopilot has no run in flight. KEYS: the hash, the runs list.
-- ARGV: the job id, the fields to set on the run (a JSON object). Returns 1, or 0 when that
-- job is not the run in flight (settled already).
local h = KEYS[1]
if redis.call('EXISTS', h) == 0 then return 0 end
if cjson.decode(redis.call('HGET', h, 'in_flight')) ~= ARGV[1] then return 0 end
redis.call('HSET', h, 'in_flight', 'null')
local newest = redis.call('LINDEX', KEYS[2], 0)
if newest then
  local run = cjson.decode(newest)
  if run.job_id == ARGV[1] then
    for k, v in pairs(cjson.decode(ARGV[2])) do run[k] = v end
    redis.call('LSET', KEYS[2], 0, cjson.encode(run))
  end
end
return 1
