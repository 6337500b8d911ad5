--#include budget
-- Store an uploaded file's record once its bytes are written: its manifest, its record, its
-- listings, its chunks kept (no longer expiring), and its bytes counted against its project's
-- budget, all in one step, or nothing; it waits for its check in the uploaded list. KEYS: the
-- manifest, the record, the index, the project's index, the project's usage, the uploaded
-- list, then the chunks. ARGV: the manifest, the record, the file id, its sequence number,
-- its bytes, the byte budget, the time. Returns 'added', or the budget's
-- refusal (the caller discards the chunks).
local over = over_budget(KEYS[5], ARGV[5], ARGV[6])
if over then return over end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
redis.call('ZADD', KEYS[6], ARGV[7], ARGV[3])
for i = 7, #KEYS do redis.call('PERSIST', KEYS[i]) end
count(KEYS[5], 'files', ARGV[5], 1)
return 'added'
