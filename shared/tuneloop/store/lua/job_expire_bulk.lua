--#include job_status
--#include job_expire
-- Let a failed or cancelled job's bulk data expire at its end plus ARGV[1] seconds (0: never):
-- the same time its end set, for bulk data written after it (a stage that was still running)
-- or for a job that ended before expiry existed. KEYS: the job's hash, the list of jobs whose
-- bulk data expires, then the bulk keys. ARGV: the TTL, the job id.
-- Returns the time set, or 0 when the job is not failed or cancelled (or the TTL is 0).
local EXPIRING = {{EXPIRING}}
local status = job_status(KEYS[1])
if not status or not EXPIRING[status] or tonumber(ARGV[1]) <= 0 then return 0 end
local finished = tonumber(redis.call('HGET', KEYS[1], 'finished_at') or '')  -- 'null': nil
if not finished then return 0 end
local at = finished + tonumber(ARGV[1])
expire_bulk(3, at)
note_expiring(KEYS[2], ARGV[2], at)
return at
