-- Drop up to ARGV[2] retired versions ended at or before ARGV[1]. KEYS: history, ended,
-- bodies, deleted, reclaimed. Returns how many went.
local refs = redis.call(
  'ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local top = tonumber(redis.call('HGET', KEYS[5], 'ended_max') or '0')
local low = tonumber(redis.call('HGET', KEYS[5], 'born_min') or '-1')
for i = 1, #refs, 2 do
  local born = tonumber(string.match(refs[i], '@(%d+)$'))
  if low < 0 or born < low then low = born end
  redis.call('ZREM', KEYS[1], refs[i])
  redis.call('ZREM', KEYS[2], refs[i])
  redis.call('HDEL', KEYS[3], refs[i])
  redis.call('ZREM', KEYS[4], refs[i])
  top = math.max(top, tonumber(refs[i + 1]))
end
if #refs > 0 then
  redis.call('HSET', KEYS[5], 'ended_max', string.format('%d', top))
  redis.call('HSET', KEYS[5], 'born_min', string.format('%d', low))
end
return #refs / 2
