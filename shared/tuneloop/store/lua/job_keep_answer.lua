--#include job_status
-- Set one field of a job's hash (ARGV: field, value) only once the job has ended; returns 1
-- when set. KEYS: the job's hash.
local status = job_status(KEYS[1])
if not status or not ended(status) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
