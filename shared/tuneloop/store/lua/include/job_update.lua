--#include job_status
--#include job_move
-- update_if_active(first): set the field/value pairs from ARGV[first] on, only while the job
-- is not finished, so a late or repeated stage can never resurrect a failed, cancelled or
-- succeeded job. Returns 1 when set, 0 when the job has ended, -1 when there is no such job.
local function update_if_active(first)
  local status = job_status(KEYS[1])
  if not status then return -1 end
  if ended(status) then return 0 end
  for i = first, #ARGV, 2 do
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    if ARGV[i] == 'status' then move(ARGV[1], status, cjson.decode(ARGV[i + 1])) end
  end
  return 1
end
