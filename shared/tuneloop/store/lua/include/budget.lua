-- A project's stored bytes, counted in the scripts that write and delete what it stores.
-- over_budget(usage, delta, max): the refusal {'over_budget', stored, delta, max} when delta
-- more bytes would take the project past max (0: no budget); false otherwise. A script asks
-- before it writes anything, so a refused write stores nothing.
local function over_budget(usage, delta, max)
  delta, max = tonumber(delta), tonumber(max)
  if delta <= 0 or max <= 0 then return false end
  local stored = tonumber(redis.call('HGET', usage, 'bytes') or '0')
  if stored + delta > max then return {'over_budget', stored, delta, max} end
  return false
end
-- count(usage, kind, delta, n): add delta bytes and n items of kind to the project's usage.
local function count(usage, kind, delta, n)
  delta, n = tonumber(delta), tonumber(n)
  if delta ~= 0 then
    redis.call('HINCRBY', usage, 'bytes', delta)
    redis.call('HINCRBY', usage, kind .. ':bytes', delta)
  end
  if n ~= 0 then redis.call('HINCRBY', usage, kind .. ':count', n) end
end
