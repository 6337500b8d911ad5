--#include budget
-- Put a job's staged case lists in place of its current ones in one step, counting their bytes
-- against its project's budget. KEYS: the job's hash, the project's usage, then each outcome's
-- staging list and current list. ARGV: the byte budget, the staged lists' bytes, then each
-- outcome's staged count. Returns 'swapped', 'missing' without the job (the staged lists go),
-- or the budget's refusal (the current lists stay, the staged ones go).
if redis.call('EXISTS', KEYS[1]) == 0 then  -- no job (deleted meanwhile): keep nothing
  for i = 3, #KEYS, 2 do redis.call('DEL', KEYS[i]) end
  return 'missing'
end
local was = tonumber(redis.call('HGET', KEYS[1], 'cases_bytes') or '0')
local grown = tonumber(ARGV[2]) - was
local over = over_budget(KEYS[2], grown, ARGV[1])
if over then
  for i = 3, #KEYS, 2 do redis.call('DEL', KEYS[i]) end
  return over
end
for i = 3, #KEYS, 2 do
  redis.call('DEL', KEYS[i + 1])
  if tonumber(ARGV[3 + (i - 3) / 2]) > 0 then
    redis.call('RENAME', KEYS[i], KEYS[i + 1])
    redis.call('PERSIST', KEYS[i + 1])  -- kept with the job (staging lists expire)
  end
end
redis.call('HSET', KEYS[1], 'cases_bytes', ARGV[2])
count(KEYS[2], 'cases', grown, 0)
return 'swapped'
