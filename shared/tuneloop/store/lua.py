"""Lua pieces that several scripts share."""

# job_status(key) -> the job's status, or nil when there is no such job; ended(status) -> true
# for the three final statuses. Scripts that act "only while the job is active" use both.
JOB_STATUS = """
local function job_status(key)
  local raw = redis.call('HGET', key, 'status')
  if not raw then return nil end
  return cjson.decode(raw)
end
local function ended(status)
  return status == 'succeeded' or status == 'failed' or status == 'cancelled'
end
"""
