-- Take the lease if it is free, or if its holder is a dead process on this host. KEYS: the
-- lease. ARGV: holder, TTL in ms, this host, ",pid,pid," of this host's dead processes ('' for
-- none). Returns false when taken, else the live holder.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  local host, pid = string.match(holder, '^([^|]*)|([^|]*)|')
  local dead = ARGV[4] ~= '' and string.find(ARGV[4], ',' .. pid .. ',', 1, true)
  if host ~= ARGV[3] or not dead then
    return holder
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
