--#include budget
-- Drop an endpoint's oldest deliveries (past its bound, or too old), their bytes out of the
-- project's usage. KEYS: the endpoint's deliveries, the due set, the claims hash, the
-- project's usage, then each delivery's record. ARGV: the number of deliveries, then their
-- ids. Returns how many were dropped (one gone already is passed over).
local bytes, n = 0, 0
for i = 1, tonumber(ARGV[1]) do
  local did = ARGV[1 + i]
  if redis.call('ZREM', KEYS[1], did) == 1 then
    bytes = bytes + redis.call('STRLEN', KEYS[4 + i])
    n = n + 1
    redis.call('DEL', KEYS[4 + i])
    redis.call('ZREM', KEYS[2], did)
    redis.call('HDEL', KEYS[3], did)
  end
end
count(KEYS[4], 'webhook_deliveries', -bytes, -n)
return n
