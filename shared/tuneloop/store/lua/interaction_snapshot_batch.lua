#!lua flags=no-writes
-- Read one batch of the snapshot at S, atomically. KEYS: born, history, ended, bodies, then
-- the records of the n live ids listed in (lo, hi]. ARGV: S, lo, hi, the n ids, their n
-- creation numbers. Returns creation number, body, ... (live ones first, then old versions).
local S = tonumber(ARGV[1])
local n = (#ARGV - 3) / 2
local out = {}
for i = 1, n do
  local body = redis.call('GET', KEYS[4 + i])
  if body then
    local created = ARGV[3 + n + i]
    local born = tonumber(redis.call('HGET', KEYS[1], ARGV[3 + i]) or created)
    if born <= S then
      out[#out + 1] = created
      out[#out + 1] = body
    end
  end
end
local old = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[2], ARGV[3], 'WITHSCORES')
for j = 1, #old, 2 do
  local ref = old[j]
  local born = tonumber(string.match(ref, '@(%d+)$'))
  local ended = tonumber(redis.call('ZSCORE', KEYS[3], ref))
  if born <= S and (not ended or ended > S) then
    out[#out + 1] = old[j + 1]
    out[#out + 1] = redis.call('HGET', KEYS[4], ref)
  end
end
return out
