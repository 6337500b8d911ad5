-- Count the end of the start with a token. KEYS[1] the deliveries hash; ARGV stage, token.
-- The write Redis may refuse when full (HINCRBY) comes first, so a refusal changes nothing.
local open = ARGV[1] .. ':open:' .. ARGV[2]
if redis.call('HEXISTS', KEYS[1], open) == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':ended', 1)
  redis.call('HDEL', KEYS[1], open)
end
return 0
