--#include job_status
--#include job_move
--#include job_event
-- Resume a job: a paused one is queued again (the caller sends its stages), a pausing one
-- goes on running (the pause is withdrawn before it took effect). KEYS: the job scripts'
-- head, then the job's event stream and its set of event keys. ARGV: the job id, the
-- job.resumed event's body for a paused job, the one for a pausing job. Returns {the new
-- status (queued or running), n (the pause it ends)}, {'same', status} (queued or running:
-- nothing changes), {'ended', status} or {'missing'}.
local status = job_status(KEYS[1])
if not status then return {'missing'} end
if ended(status) then return {'ended', status} end
if status ~= {{PAUSING}} and status ~= {{PAUSED}} then return {'same', status} end
local n = tonumber(redis.call('HGET', KEYS[1], 'pauses') or '0')
local new, body = {{QUEUED}}, ARGV[2]
if status == {{PAUSING}} then new, body = {{RUNNING}}, ARGV[3] end
redis.call('HSET', KEYS[1], 'status', cjson.encode(new))
move(ARGV[1], status, new)
add_event(KEYS[AFTER_INDEXES], KEYS[AFTER_INDEXES + 1], 'job:resumed:' .. n, body)
return {new, n}
