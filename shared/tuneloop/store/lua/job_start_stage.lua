--#include job_status
--#include job_move
-- Mark a job running in a stage (started_at set the first time), unless it has ended or a
-- pause halted it: a pausing or paused job starts no stage until it is resumed. KEYS: the
-- job scripts' head. ARGV: the job id, the stage (JSON), the time (JSON). Returns 'started',
-- 'ended', 'halted' or 'missing'.
local HALTED = {{HALTED}}
local status = job_status(KEYS[1])
if not status then return 'missing' end
if ended(status) then return 'ended' end
if HALTED[status] then return 'halted' end
redis.call('HSET', KEYS[1], 'status', cjson.encode({{RUNNING}}), 'stage', ARGV[2])
move(ARGV[1], status, {{RUNNING}})
if redis.call('HGET', KEYS[1], 'started_at') == 'null' then
  redis.call('HSET', KEYS[1], 'started_at', ARGV[3])
end
return 'started'
