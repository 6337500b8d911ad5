-- Append an event once per key, while the job exists (a deleted job gets none back). KEYS: the
-- event stream, the set of event keys, the job's hash. ARGV: the event's key, its body. Returns
-- the event's id, or false when the key was added before (or there is no job).
if redis.call('EXISTS', KEYS[3]) == 0 then return false end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return false end
return redis.call('XADD', KEYS[1], '*', 'event', ARGV[2])
