--#include budget
-- Put a job's staged case lists in place of its current ones in one step, counting their bytes
-- against its project's budget. KEYS: the job's hash, the project's usage, then each outcome's
-- staging list and current list, the optional outcome's last. ARGV: the byte budget, the
-- staged lists' bytes, the optional list's share of them, then each outcome's staged count.
-- Returns 'swapped', 'swapped_without_optional' when all the lists would take the project past
-- its budget but those without the optional one fit (that list goes, staged and current),
-- 'missing' without the job (the staged lists go), or the budget's refusal (the current lists
-- stay, the staged ones go).
if redis.call('EXISTS', KEYS[1]) == 0 then  -- no job (deleted meanwhile): keep nothing
  for i = 3, #KEYS, 2 do redis.call('DEL', KEYS[i]) end
  return 'missing'
end
local was = tonumber(redis.call('HGET', KEYS[1], 'cases_bytes') or '0')
local size, optional = tonumber(ARGV[2]), tonumber(ARGV[3])
local answer, last = 'swapped', #KEYS - 1
local over = over_budget(KEYS[2], size - was, ARGV[1])
if over and optional > 0 and not over_budget(KEYS[2], size - optional - was, ARGV[1]) then
  redis.call('DEL', KEYS[last])
  size, over, answer = size - optional, false, 'swapped_without_optional'
end
if over then
  for i = 3, #KEYS, 2 do redis.call('DEL', KEYS[i]) end
  return over
end
for i = 3, #KEYS, 2 do
  redis.call('DEL', KEYS[i + 1])
  local dropped = answer == 'swapped_without_optional' and i == last
  if tonumber(ARGV[4 + (i - 3) / 2]) > 0 and not dropped then
    redis.call('RENAME', KEYS[i], KEYS[i + 1])
    redis.call('PERSIST', KEYS[i + 1])  -- kept with the job (staging lists expire)
  end
end
redis.call('HSET', KEYS[1], 'cases_bytes', size)
count(KEYS[2], 'cases', size - was, 0)
return answer
