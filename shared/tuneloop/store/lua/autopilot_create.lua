-- Store a new autopilot and list it, unless its project has max of them already. KEYS: the
-- autopilot's hash, the global list, the project's list. ARGV: the id, its sequence number,
-- max (0: no limit), then field/value pairs. Returns 1, or 0 at the limit (nothing stored).
local max = tonumber(ARGV[3])
if max > 0 and redis.call('ZCARD', KEYS[3]) >= max then return 0 end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return 1
