-- Set field/value pairs (ARGV) on the job hash at KEYS[1] only while it exists (a job deleted
-- meanwhile is not brought back as a hash of these fields alone). Returns 1 when set.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
