-- Take back one count from each window of KEYS that is still open: a request counted ahead
-- of its outcome that turned out not to count (a sign-in that succeeded). A window that has
-- ended stays ended; a Redis too full to write takes nothing back.
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.pcall('DECR', KEYS[i]) end
end
return false
