--#include job_status
--#include job_move
--#include job_expire
--#include budget
--#include model_size
-- Cancel is final: the status changes, any model the job published is withdrawn (its bytes
-- leave its project's usage) and the job's bulk data is set to expire, in the same step
-- (publication is refused once the status is final, see model_publish.lua). After the
-- indexes: the model list, the description key of the model the caller read on the job (or
-- any key when none), the job's project's model list, the project's usage, that model's
-- manifest (or any key when none), the list of jobs whose bulk data expires, then the job's
-- bulk keys. ARGV: the job id, the time, that
-- model id ('' when none), when the bulk data expires (0: never).
-- Returns {1, model id or false, the status it had} when cancelled, {0, false} when the job
-- had ended, and {-1, model id} when the job's model is not the one the caller read: read
-- again and retry.
local status = job_status(KEYS[1])
if not status or ended(status) then return {0, false} end
local mid = redis.call('HGET', KEYS[1], 'model_id')
mid = (mid and mid ~= 'null') and cjson.decode(mid) or ''
if mid ~= ARGV[3] then return {-1, mid} end
redis.call('HSET', KEYS[1], 'status', cjson.encode({{CANCELLED}}), 'finished_at', ARGV[2])
move(ARGV[1], status, {{CANCELLED}})
expire_bulk(AFTER_INDEXES + 6, ARGV[4])
note_expiring(KEYS[AFTER_INDEXES + 5], ARGV[1], ARGV[4])
if mid == '' then return {1, false, status} end
redis.call('DEL', KEYS[AFTER_INDEXES + 1])
redis.call('ZREM', KEYS[AFTER_INDEXES], mid)
redis.call('ZREM', KEYS[AFTER_INDEXES + 2], mid)
count(KEYS[AFTER_INDEXES + 3], 'models', -model_size(KEYS[AFTER_INDEXES + 4]), -1)
redis.call('HSET', KEYS[1], 'model_id', 'null')
return {1, mid, status}
