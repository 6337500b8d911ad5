-- Set one field of a job's hash (ARGV: field, value) while it is null. KEYS: the job's hash.
if redis.call('HGET', KEYS[1], ARGV[1]) == 'null' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
