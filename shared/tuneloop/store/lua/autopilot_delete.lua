-- Delete an autopilot with its runs and listings. KEYS: the hash, the runs list, the global
-- list, the project's list. ARGV: the id. Returns 1, or 0 when there was none. Its jobs stay.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('UNLINK', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
