--#include job_status
--#include job_move
--#include job_event
-- Settle a pausing job as paused once nothing carries it on: no stage lease is held and (when
-- asked) no part of a fanned-out stage is in flight (a stage planned, not done, its parts not
-- all done). A runner asks after it stopped at a pause (its own lease released); the sweeper
-- asks without the parts' check, having seen no message naming the job. KEYS: the job
-- scripts' head, the job's event stream, its set of event keys, its steps done, then the n
-- stage leases, then per fanned-out stage its plan and its set of parts done. ARGV: the job
-- id, the job.paused event's body, n, '1' to check the parts, then the fanned-out stages'
-- names. Returns 1 when the job is now paused, 0 when it is not (still carried, paused
-- already, ended), -1 when it is queued or running: its pause was withdrawn (or it was
-- resumed) meanwhile, and the caller must carry it on.
local status = job_status(KEYS[1])
if status == {{QUEUED}} or status == {{RUNNING}} then return -1 end
if status ~= {{PAUSING}} then return 0 end
local n, steps = tonumber(ARGV[3]), KEYS[AFTER_INDEXES + 2]
local first = AFTER_INDEXES + 3
for i = first, first + n - 1 do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
if ARGV[4] == '1' then
  for j = 5, #ARGV do
    local plan_key = KEYS[first + n + 2 * (j - 5)]
    local raw = redis.call('GET', plan_key)
    if raw and redis.call('SISMEMBER', steps, ARGV[j]) == 0 then
      local parts = tonumber(cjson.decode(raw).parts)
      if redis.call('SCARD', KEYS[first + n + 2 * (j - 5) + 1]) < parts then return 0 end
    end
  end
end
redis.call('HSET', KEYS[1], 'status', cjson.encode({{PAUSED}}))
move(ARGV[1], status, {{PAUSED}})
local pauses = redis.call('HGET', KEYS[1], 'pauses') or '0'
add_event(KEYS[AFTER_INDEXES], KEYS[AFTER_INDEXES + 1], 'job:paused:' .. pauses, ARGV[2])
return 1
