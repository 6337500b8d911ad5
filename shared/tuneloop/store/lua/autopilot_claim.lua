-- Claim an autopilot's next run: only while it is active, has no run in flight and has made
-- exactly the runs the caller read (two schedulers that both find it due claim it once).
-- KEYS: the hash, the runs list. ARGV: the runs count read, the run (JSON), its job id, now,
-- the ratings count now, the most runs kept. Returns 1 when claimed, 0 otherwise.
local h = KEYS[1]
if redis.call('EXISTS', h) == 0 then return 0 end
if cjson.decode(redis.call('HGET', h, 'status')) ~= {{AUTOPILOT_ACTIVE}} then return 0 end
if cjson.decode(redis.call('HGET', h, 'in_flight')) ~= cjson.null then return 0 end
if redis.call('HGET', h, 'runs_count') ~= ARGV[1] then return 0 end
redis.call('HSET', h, 'runs_count', tostring(tonumber(ARGV[1]) + 1),
  'in_flight', cjson.encode(ARGV[3]), 'last_run_at', ARGV[4], 'ratings_at_last_run', ARGV[5])
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[6]) - 1)
return 1
