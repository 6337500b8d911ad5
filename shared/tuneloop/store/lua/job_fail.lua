--#include job_update
--#include job_expire
-- End a job failed while it is active, and in the same step let its bulk data (the keys after
-- the indexes and the list of jobs whose bulk data expires) expire, noting it in that list. ARGV: the job id, when the bulk data expires (0: never), then the
-- field/value pairs (status, error, finished_at...). Returns as update_if_active.
local done = update_if_active(3)
if done == 1 then
  expire_bulk(AFTER_INDEXES + 1, ARGV[2])
  note_expiring(KEYS[AFTER_INDEXES], ARGV[1], ARGV[2])
end
return done
