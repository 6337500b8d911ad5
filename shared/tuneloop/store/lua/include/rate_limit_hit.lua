-- hit(k, n, a): count the n windows whose keys start at KEYS[k] and whose lengths and
-- amounts are the pairs from ARGV[a]; return the refusal {'rate_limited', number of the first
-- window over, its TTL} (see ratelimit.raise_if_over) or false. Errors (a full Redis) count
-- nothing and refuse nothing.
local function hit(k, n, a)
  for i = 0, n - 1 do
    local key, amount = KEYS[k + i], tonumber(ARGV[a + 2 * i + 1])
    local count = redis.pcall('INCRBY', key, 1)
    if type(count) == 'number' then
      if count == 1 then redis.pcall('EXPIRE', key, ARGV[a + 2 * i]) end
      if count > amount then return {'rate_limited', i + 1, redis.call('TTL', key)} end
    end
  end
  return false
end
