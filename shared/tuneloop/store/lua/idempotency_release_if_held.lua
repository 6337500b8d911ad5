-- Delete the key only if it still holds exactly the claim this caller wrote (ARGV[1]).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
