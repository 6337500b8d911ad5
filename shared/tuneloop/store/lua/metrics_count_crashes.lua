-- KEYS[1] the job's deliveries hash, KEYS[2] the crash counts; ARGV stage, crashes seen now.
-- A start sees every earlier start of its stage that never ended; only the ones no start
-- counted before are added, so each crash counts once however often it is seen.
local field = ARGV[1] .. ':crashes-counted'
local counted = tonumber(redis.call('HGET', KEYS[1], field) or '0')
local seen = tonumber(ARGV[2])
if seen > counted then
  redis.call('HINCRBY', KEYS[2], ARGV[1], seen - counted)
  redis.call('HSET', KEYS[1], field, seen)
end
return 0
