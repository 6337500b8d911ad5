--#include interaction_versions
--#include budget
-- Delete an interaction, keeping its version. KEYS: sequence, index, task counts, rating
-- counts, born, history, ended, bodies, deleted, the record, its task's index, the audit
-- stream, the project's usage. ARGV: id, the body the caller read, task, bucket, the event,
-- the stream's bound, seconds the stream outlives the interaction. The project's usage drops
-- by the body's bytes (a version a snapshot still holds is kept, uncounted, until reclaimed).
local seq, ref, created = retire_current(KEYS[10], ARGV[1], ARGV[2])
if seq < 1 then return seq end
redis.call('ZADD', KEYS[9], seq, ref)
redis.call('DEL', KEYS[10])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[11], ARGV[1])
count_move(KEYS[3], ARGV[3], '')
count_move(KEYS[4], ARGV[4], '')
redis.call('XADD', KEYS[12], 'MAXLEN', ARGV[6], '*', 'event', ARGV[5])
redis.call('EXPIRE', KEYS[12], ARGV[7])
count(KEYS[13], 'interactions', -#ARGV[2], -1)
return seq
