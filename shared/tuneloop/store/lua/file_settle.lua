--#include budget
-- Settle a checked file, if it is still the upload its check read: its new record, and its
-- new chunks (or none) in place of the upload's; its project's usage moves by the change in
-- its stored bytes, and it leaves the uploaded list. KEYS: the record, the manifest, the
-- project's usage, the uploaded list, the sweeper's count of check sends, the upload's chunks,
-- then the new chunks. ARGV: the SHA-1 of the manifest as read, the new record, the new
-- manifest ("" to keep no bytes), the number of the upload's chunks, the bytes stored before
-- and after, the file id. Returns 1 when settled, 0 when the file was deleted or settled since (the caller
-- drops its new chunks).
local record = redis.call('GET', KEYS[1])
if not record or cjson.decode(record)['status'] ~= {{UPLOADED}} then return 0 end
if redis.sha1hex(redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
local old = tonumber(ARGV[4])
redis.call('SET', KEYS[1], ARGV[2])
for i = 6, 5 + old do redis.call('DEL', KEYS[i]) end
redis.call('ZREM', KEYS[4], ARGV[7])
redis.call('HDEL', KEYS[5], ARGV[7])
if ARGV[3] == '' then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], ARGV[3])
  for i = 6 + old, #KEYS do redis.call('PERSIST', KEYS[i]) end
end
count(KEYS[3], 'files', tonumber(ARGV[6]) - tonumber(ARGV[5]), 0)
return 1
