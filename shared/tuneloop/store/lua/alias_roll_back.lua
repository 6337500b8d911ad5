-- Point an alias back at the model it named before, in one step: only while it still names
-- the model the caller judged (live), the autopilot judging is active and the earlier model
-- still exists. KEYS: the alias, the earlier model's description, the autopilot's hash. ARGV:
-- the live model id, the new target (JSON). Returns 1, 0 when the alias moved or the
-- autopilot was paused or deleted meanwhile, -1 when the earlier model is gone.
local raw = redis.call('GET', KEYS[1])
if not raw or cjson.decode(raw).model_id ~= ARGV[1] then return 0 end
local status = redis.call('HGET', KEYS[3], 'status')
if not status or cjson.decode(status) ~= {{AUTOPILOT_ACTIVE}} then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
