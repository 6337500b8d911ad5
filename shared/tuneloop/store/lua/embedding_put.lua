-- Add embeddings to the cache, counted: KEYS[1] is the index (entry key -> expiry time),
-- KEYS[2..] the entries' keys; ARGV: now (s), TTL (s), the most entries kept, then one value
-- per entry. Expired entries leave the index first; a new entry is set with the TTL and
-- indexed, an entry already there is left as it is; past the most entries, those expiring
-- soonest go. Returns {entries added, entries evicted, entries now}.
local index, now, ttl, most = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
local added = 0
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[i + 2], 'EX', ttl, 'NX') then
    redis.call('ZADD', index, now + ttl, KEYS[i])
    added = added + 1
  end
end
local evicted = 0
local over = redis.call('ZCARD', index) - most
if over > 0 then
  local gone = redis.call('ZPOPMIN', index, over)
  for i = 1, #gone, 2 do redis.call('DEL', gone[i]) end
  evicted = over
end
return {added, evicted, redis.call('ZCARD', index)}
