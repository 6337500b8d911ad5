--#include budget
-- Take a failed or cancelled job's expired bulk data out of its project's usage: the eval
-- set's bytes once its list is gone, the cases' once every case list is. KEYS: the list of
-- jobs whose bulk data expires, the job's hash, its project's usage, its eval set, then its
-- case lists. ARGV: the job id. The job leaves the list once nothing of it is counted (or it
-- is gone). Returns the bytes taken out.
local settled = 0
if redis.call('EXISTS', KEYS[2]) == 1 then
  local eval_bytes = tonumber(redis.call('HGET', KEYS[2], 'eval_set_bytes') or '0')
  if eval_bytes > 0 and redis.call('EXISTS', KEYS[4]) == 0 then
    count(KEYS[3], 'eval_sets', -eval_bytes, -1)
    redis.call('HSET', KEYS[2], 'eval_set_bytes', 0)
    settled, eval_bytes = settled + eval_bytes, 0
  end
  local case_bytes = tonumber(redis.call('HGET', KEYS[2], 'cases_bytes') or '0')
  if case_bytes > 0 and redis.call('EXISTS', unpack(KEYS, 5)) == 0 then
    count(KEYS[3], 'cases', -case_bytes, 0)
    redis.call('HSET', KEYS[2], 'cases_bytes', 0)
    settled, case_bytes = settled + case_bytes, 0
  end
  if eval_bytes > 0 or case_bytes > 0 then return settled end
end
redis.call('ZREM', KEYS[1], ARGV[1])
return settled
