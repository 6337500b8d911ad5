--#include job_status
--#include job_move
--#include job_event
-- Pause a job: a queued one is paused at once (no stage of it runs: job_start_stage.lua
-- refuses), a running one is pausing until its runner stops at a boundary (or the sweeper
-- finds it has none). The pause is counted in the hash's `pauses`, which numbers its events.
-- KEYS: the job scripts' head, then the job's event stream and its set of event keys. ARGV:
-- the job id, the job.paused event's body, the job.pausing event's body. Returns {the new
-- status (paused or pausing), n}, {'same', status} (pausing or paused already: nothing
-- changes), {'ended', status} or {'missing'}.
local status = job_status(KEYS[1])
if not status then return {'missing'} end
if ended(status) then return {'ended', status} end
if status == {{PAUSING}} or status == {{PAUSED}} then return {'same', status} end
local n = redis.call('HINCRBY', KEYS[1], 'pauses', 1)
local events, once = KEYS[AFTER_INDEXES], KEYS[AFTER_INDEXES + 1]
local new, body = {{PAUSING}}, ARGV[3]
if status == {{QUEUED}} then new, body = {{PAUSED}}, ARGV[2] end
redis.call('HSET', KEYS[1], 'status', cjson.encode(new))
move(ARGV[1], status, new)
add_event(events, once, 'job:' .. new .. ':' .. n, body)
return {new, n}
