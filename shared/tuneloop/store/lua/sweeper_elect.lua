-- Take the sweeper's seat (KEYS[1]) if it is free or already ARGV[1]'s, for ARGV[2] ms.
-- Returns 1 when ARGV[1] has it.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
