-- An interaction's audit trail counts in its project's usage: the bytes of its events.
-- trail_bytes(stream, n): the bytes of the stream's n oldest events (every event: n nil).
local function trail_bytes(stream, n)
  local total = 0
  local events = n and redis.call('XRANGE', stream, '-', '+', 'COUNT', n)
    or redis.call('XRANGE', stream, '-', '+')
  for _, entry in ipairs(events) do total = total + #entry[2][2] end
  return total
end
-- trimmed_bytes(stream, bound): the bytes of the events one more XADD with MAXLEN bound drops.
local function trimmed_bytes(stream, bound)
  local over = redis.call('XLEN', stream) + 1 - tonumber(bound)
  if over <= 0 then return 0 end
  return trail_bytes(stream, over)
end
