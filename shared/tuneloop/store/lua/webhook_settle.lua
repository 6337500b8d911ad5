--#include budget
-- Record an attempt's outcome, only while its claim is still the token's: the delivery's new
-- record (its size change in the project's usage), and when it is due again, or out of the
-- due set when it has ended. KEYS: the due set, the claims hash, the delivery's record, the
-- project's usage. ARGV: the delivery id, the token, the new record, when it is due ('':
-- never). Returns 1, or 0 when the claim was taken over or the delivery deleted.
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
local old = redis.call('GET', KEYS[3])
if not old then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
redis.call('SET', KEYS[3], ARGV[3])
count(KEYS[4], 'webhook_deliveries', #ARGV[3] - #old, 0)
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
end
return 1
