-- Count a start of a stage once per token. KEYS[1] the deliveries hash; ARGV stage, token.
-- Returns {starts, starts that never ended - 1}.
local open = ARGV[1] .. ':open:' .. ARGV[2]
if redis.call('HSETNX', KEYS[1], open, 1) == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':started', 1)
end
local started = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':started'))
local ended = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':ended') or '0')
return {started, started - ended - 1}
