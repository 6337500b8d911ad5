--#include budget
-- Delete a webhook endpoint with every delivery it has, their bytes out of its project's usage,
-- in one step. KEYS: the record, the project's list, the project's usage, the endpoint's
-- deliveries, the due set, the claims hash, then each delivery's record. ARGV: the endpoint
-- id, the number of deliveries, then their ids, as the caller read them. Returns 'deleted',
-- 'missing', or 'changed' when the deliveries are no longer those (an event came in between).
local record = redis.call('GET', KEYS[1])
if not record then return 'missing' end
local n = tonumber(ARGV[2])
if redis.call('ZCARD', KEYS[4]) ~= n then return 'changed' end
for i = 1, n do
  if not redis.call('ZSCORE', KEYS[4], ARGV[2 + i]) then return 'changed' end
end
local bytes = 0
for i = 1, n do
  bytes = bytes + redis.call('STRLEN', KEYS[6 + i])
  redis.call('DEL', KEYS[6 + i])
  redis.call('ZREM', KEYS[5], ARGV[2 + i])
  redis.call('HDEL', KEYS[6], ARGV[2 + i])
end
count(KEYS[3], 'webhook_deliveries', -bytes, -n)
count(KEYS[3], 'webhooks', -#record, -1)
redis.call('DEL', KEYS[1], KEYS[4])
redis.call('ZREM', KEYS[2], ARGV[1])
return 'deleted'
