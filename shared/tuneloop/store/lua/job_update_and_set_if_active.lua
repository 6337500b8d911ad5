--#include job_update
-- The same, and in the same step (only when the fields were set) a value under the key after
-- the indexes: a job succeeds and its model becomes an alias's target together, or neither.
-- ARGV: the job id, the value, then field/value pairs.
local done = update_if_active(3)
if done == 1 then redis.call('SET', KEYS[AFTER_INDEXES], ARGV[2]) end
return done
