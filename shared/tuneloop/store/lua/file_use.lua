-- Record that a job uses a file, if the file still exists. KEYS: the record, the jobs set.
-- ARGV: the job id. Returns 1 when recorded, 0 without the file.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
