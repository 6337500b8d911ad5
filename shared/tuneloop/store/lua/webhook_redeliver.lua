--#include budget
-- Make a delivery due at once again (or claim it for the caller, who sends it), unless an
-- attempt holds it now. KEYS: the delivery's record, the due set, the claims hash, the
-- project's usage. ARGV: the delivery id, the record as read, the new record, the time now,
-- the end of the caller's claim, its token ('' for none). Returns 'due', 'busy' while an
-- attempt's claim runs, 'changed' when the record is no longer the one read, 'missing'.
local old = redis.call('GET', KEYS[1])
if not old then return 'missing' end
if old ~= ARGV[2] then return 'changed' end
local held = redis.call('ZSCORE', KEYS[2], ARGV[1])
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 and held and tonumber(held) > tonumber(ARGV[4]) then
  return 'busy'
end
redis.call('SET', KEYS[1], ARGV[3])
count(KEYS[4], 'webhook_deliveries', #ARGV[3] - #old, 0)
if ARGV[6] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[6])
else
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
end
return 'due'
