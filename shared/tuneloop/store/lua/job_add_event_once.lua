-- Append an event once per key. KEYS: the event stream, the set of event keys. ARGV: the
-- event's key, its body. Returns the event's id, or false when the key was added before.
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return false end
return redis.call('XADD', KEYS[1], '*', 'event', ARGV[2])
