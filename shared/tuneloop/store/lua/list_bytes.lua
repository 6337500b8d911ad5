-- The bytes of the elements of the list at KEYS[1], summed where they are (a list may hold
-- many MiB).
local total = 0
for _, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do total = total + #v end
return total
