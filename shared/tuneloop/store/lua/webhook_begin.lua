-- Begin an attempt of a claimed delivery: only with the claim's token, which is extended to
-- the attempt's end. KEYS: the due set, the claims hash, the delivery's record. ARGV: the
-- delivery id, the token, the claim's new end. Returns the record, or false when the claim is
-- not this token's (claimed again since) or the delivery is gone (its endpoint deleted).
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return false end
local record = redis.call('GET', KEYS[3])
if not record then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[1], ARGV[1])
  return false
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return record
