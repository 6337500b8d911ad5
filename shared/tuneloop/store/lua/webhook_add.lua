--#include budget
-- Store a new webhook endpoint in its project, its bytes counted against the project's budget,
-- unless the project has its most endpoints already. KEYS: the record, the project's list, the
-- project's usage. ARGV: the record, the endpoint id, its sequence number, the most endpoints
-- (0: no limit), the byte budget. Returns 'added', 'full', or the budget's refusal.
if tonumber(ARGV[4]) > 0 and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  return 'full'
end
local over = over_budget(KEYS[3], #ARGV[1], ARGV[5])
if over then return over end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
count(KEYS[3], 'webhooks', #ARGV[1], 1)
return 'added'
