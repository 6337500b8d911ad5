--#include budget
-- Record an event once: one delivery per endpoint that still exists, each listed under its
-- endpoint, due at once (or claimed by the caller, who sends it), its bytes counted in the
-- project's usage (never refused: a job's end must not fail on it; each endpoint keeps a
-- bounded number). KEYS: the event's mark, the due set, the claims hash, the project's usage,
-- then per endpoint its record, its deliveries and the new delivery's record. ARGV: the
-- mark's lifetime in seconds, the time now, the end of the caller's claim, the number of
-- endpoints, then per endpoint the delivery id, its record, its sequence number and the
-- claim's token ('' for none: due now). Returns the ids of the deliveries recorded (none
-- when the event was emitted already).
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return {} end
local made = {}
for i = 1, tonumber(ARGV[4]) do
  local k, a = 4 + 3 * (i - 1), 4 + 4 * (i - 1)
  local did, record, token = ARGV[a + 1], ARGV[a + 2], ARGV[a + 4]
  if redis.call('EXISTS', KEYS[k + 1]) == 1 then
    redis.call('SET', KEYS[k + 3], record)
    redis.call('ZADD', KEYS[k + 2], ARGV[a + 3], did)
    if token ~= '' then
      redis.call('ZADD', KEYS[2], ARGV[3], did)
      redis.call('HSET', KEYS[3], did, token)
    else
      redis.call('ZADD', KEYS[2], ARGV[2], did)
    end
    count(KEYS[4], 'webhook_deliveries', #record, 1)
    made[#made + 1] = did
  end
end
return made
