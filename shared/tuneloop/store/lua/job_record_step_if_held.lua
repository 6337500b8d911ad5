--#include job_status
-- Record a step of a stage in one round trip, only while the job has not ended and ARGV[1]
-- still holds the stage's lease. KEYS: the job's hash, the lease, the event stream, the set
-- of event keys, the set of steps done. ARGV: holder, event key, event body, step. Returns 1
-- when recorded (the event once per key, the step counted), 2 when recorded and a pause
-- halts the job (the trainer checkpoints this step and stops), 0 when the job has ended, -1
-- when the lease is another runner's (or gone).
local HALTED = {{HALTED}}
local status = job_status(KEYS[1])
if status and ended(status) then return 0 end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
if redis.call('SADD', KEYS[4], ARGV[2]) == 1 then
  redis.call('XADD', KEYS[3], '*', 'event', ARGV[3])
end
redis.call('SADD', KEYS[5], ARGV[4])
if HALTED[status] then return 2 end
return 1
