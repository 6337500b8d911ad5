#!lua flags=no-writes
-- How many interactions the snapshot at S holds: the live ones created by S, and the deleted
-- ones created by S and deleted after it. KEYS: index, deleted, history. ARGV: S.
local S = tonumber(ARGV[1])
local n = redis.call('ZCOUNT', KEYS[1], '-inf', S)
for _, ref in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf')) do
  local created = tonumber(redis.call('ZSCORE', KEYS[3], ref))
  if created and created <= S then n = n + 1 end
end
return n
