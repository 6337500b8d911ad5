--#include interaction_versions
--#include budget
--#include audit_bytes
-- Edit an interaction, keeping the version it replaces. KEYS: sequence, index, task counts,
-- rating counts, born, history, ended, bodies, the record, the old task's index, the new
-- task's index, the audit stream, the project's usage, the old model's index, the new model's
-- index. ARGV: id, the body the caller read, the new body, old task, new task, old bucket, new
-- bucket, the event, the stream's bound, the byte budget, old model, new model ('': none, its
-- index key is then a stand-in, never touched). Returns the new version's number, 0 when the
-- record changed since it was read, -1 when gone, or the budget's refusal when the larger body
-- and the new audit event (less the oldest event the bound drops) would take it past.
local grown = #ARGV[3] - #ARGV[2] + #ARGV[8] - trimmed_bytes(KEYS[12], ARGV[9])
local over = over_budget(KEYS[13], grown, ARGV[10])
if over then return over end
local seq, ref, created = retire_current(KEYS[9], ARGV[1], ARGV[2])
if seq < 1 then return seq end
redis.call('SET', KEYS[9], ARGV[3])
redis.call('HSET', KEYS[5], ARGV[1], seq)
if ARGV[4] ~= ARGV[5] then
  redis.call('ZREM', KEYS[10], ARGV[1])
  redis.call('ZADD', KEYS[11], created, ARGV[1])
  count_move(KEYS[3], ARGV[4], ARGV[5])
end
if ARGV[11] ~= ARGV[12] then
  if ARGV[11] ~= '' then redis.call('ZREM', KEYS[14], ARGV[1]) end
  if ARGV[12] ~= '' then redis.call('ZADD', KEYS[15], created, ARGV[1]) end
end
count_move(KEYS[4], ARGV[6], ARGV[7])
redis.call('XADD', KEYS[12], 'MAXLEN', ARGV[9], '*', 'event', ARGV[8])
count(KEYS[13], 'interactions', grown, 0)
return seq
