-- Mark one part of a fanned-out stage done, once, and tell whether it completed the set.
-- KEYS: the stage's done-parts set, its part reports hash, the job's progress steps, the job's
-- hash (without it, a deleted job, nothing is marked).
-- ARGV: the part's index, the number of parts, the part's progress step, its report (JSON),
-- the keys' TTL in seconds, the stage's name. A part marked before adds nothing and counts
-- nothing (set semantics); the one call that adds the last part also marks the stage done,
-- in this same step, so exactly one caller carries the job on. Returns {added, completed}.
if redis.call('EXISTS', KEYS[4]) == 0 then return {0, 0} end
local added = redis.call('SADD', KEYS[1], ARGV[1])
if added == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
  redis.call('SADD', KEYS[3], ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
local completed = 0
if added == 1 and redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  redis.call('SADD', KEYS[3], ARGV[6])
  completed = 1
end
return {added, completed}
