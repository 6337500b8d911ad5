-- expire_bulk(first, at): let KEYS[first..] (a failed or cancelled job's bulk data) expire at
-- the Unix time at, the job's end plus TUNELOOP_FAILED_JOB_TTL; 0 keeps them. Every caller
-- names the same time, so setting it again never moves it.
local function expire_bulk(first, at)
  if tonumber(at) <= 0 then return end
  for i = first, #KEYS do redis.call('EXPIREAT', KEYS[i], at) end
end
-- note_expiring(zset, jid, at): list the job among those whose bulk data expires at at, so
-- the sweeper takes its bytes out of its project's usage once they are gone (job_settle.lua).
local function note_expiring(zset, jid, at)
  if tonumber(at) > 0 then redis.call('ZADD', zset, at, jid) end
end
