-- Replace the value only if it is still exactly the claim this caller wrote. KEYS: the key.
-- ARGV: the claim, the new value, its TTL in seconds. Returns 1 when replaced.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
