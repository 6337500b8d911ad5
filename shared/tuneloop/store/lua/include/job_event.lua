-- add_event(stream, keyset, key, body): append an event to a job's log once per key (in the
-- step that changes what it reports, so a reader never sees the one without the other).
local function add_event(stream, keyset, key, body)
  if redis.call('SADD', keyset, key) == 1 then redis.call('XADD', stream, '*', 'event', body) end
end
