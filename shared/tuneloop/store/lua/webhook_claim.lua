-- Claim the deliveries that are due, oldest due first: each is due again when the claim ends
-- (a worker that died mid-attempt leaves it to the next claim) and holds the claim's token.
-- KEYS: the due set, the claims hash. ARGV: the time now, the claims' end, the most to claim,
-- the tokens' stem. Returns the delivery id, token pairs, flat.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i, did in ipairs(due) do
  local token = ARGV[4] .. '.' .. i
  redis.call('ZADD', KEYS[1], ARGV[2], did)
  redis.call('HSET', KEYS[2], did, token)
  out[#out + 1] = did
  out[#out + 1] = token
end
return out
