--#include interaction_versions
--#include budget
--#include audit_bytes
-- Delete an interaction, keeping its version. KEYS: sequence, index, task counts, rating
-- counts, born, history, ended, bodies, deleted, the record, its task's index, the audit
-- stream, the project's usage, its model's index. ARGV: id, the body the caller read, task,
-- bucket, the event, the stream's bound, seconds the stream outlives the interaction, its
-- model ('': none, its index key is then a stand-in, never touched). The project's usage drops
-- by the body's and its audit events' bytes (a version a snapshot still holds is kept,
-- uncounted, until reclaimed; the trail without values, until it expires).
-- The audit stream keeps who changed what and when, never the content: each earlier event is
-- written again under its own id with its type, actor and time, and the names of the fields it
-- changed without their values ({} each).
local function redact(stream)
  local events = redis.call('XRANGE', stream, '-', '+')
  redis.call('DEL', stream)
  for _, entry in ipairs(events) do
    local event = cjson.decode(entry[2][2])
    local changed = {}
    for field in pairs(event.changes or {}) do changed[field] = {} end
    local kept = {type = event.type, actor = event.actor, created_at = event.created_at}
    kept.changes = changed
    redis.call('XADD', stream, entry[1], 'event', cjson.encode(kept))
  end
end
local seq, ref, created = retire_current(KEYS[10], ARGV[1], ARGV[2])
if seq < 1 then return seq end
redis.call('ZADD', KEYS[9], seq, ref)
redis.call('DEL', KEYS[10])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[11], ARGV[1])
if ARGV[8] ~= '' then redis.call('ZREM', KEYS[14], ARGV[1]) end
count_move(KEYS[3], ARGV[3], '')
count_move(KEYS[4], ARGV[4], '')
local trail = trail_bytes(KEYS[12])
redact(KEYS[12])
redis.call('XADD', KEYS[12], 'MAXLEN', ARGV[6], '*', 'event', ARGV[5])
redis.call('EXPIRE', KEYS[12], ARGV[7])
count(KEYS[13], 'interactions', -#ARGV[2] - trail, -1)
return seq
