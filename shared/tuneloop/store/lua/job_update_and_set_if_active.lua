--#include job_update
-- The same, and in the same step (only when the fields were set) an alias's target under the
-- key after the indexes: a job succeeds and its model becomes the alias's target together, or
-- neither. The target keeps the one it replaces as its `previous` (what a rollback returns
-- to). ARGV: the job id, the target (JSON), then field/value pairs.
local done = update_if_active(3)
if done == 1 then
  local value, old = ARGV[2], redis.call('GET', KEYS[AFTER_INDEXES])
  if old then
    local target, before = cjson.decode(value), cjson.decode(old)
    if before.model_id ~= target.model_id then
      target.previous = {
        model_id = before.model_id, job_id = before.job_id, promoted_at = before.promoted_at
      }
      value = cjson.encode(target)
    end
  end
  redis.call('SET', KEYS[AFTER_INDEXES], value)
end
return done
