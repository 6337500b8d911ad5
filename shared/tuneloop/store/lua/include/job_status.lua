-- job_status(key): the job's status, or nil when there is no such job; ended(status): true for
-- the final statuses. Scripts that act "only while the job is active" use both.
local function job_status(key)
  local raw = redis.call('HGET', key, 'status')
  if not raw then return nil end
  return cjson.decode(raw)
end
local TERMINAL = {{TERMINAL}}
local function ended(status)
  return TERMINAL[status] == true
end
