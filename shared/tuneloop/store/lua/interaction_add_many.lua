--#include rate_limit_hit
--#include budget
-- Store a batch of interactions in one script, so a job's snapshot sequence never sees half
-- a batch or a gap. Each command takes many items at once (in slices, within Lua's stack),
-- and the statistics move once per distinct task type and rating bucket, not once per item.
-- The request's rate-limit windows are counted first: a refused request writes nothing else;
-- then the project's byte budget: a batch past it writes nothing.
-- KEYS: the sequence, the index, the two statistics hashes, the project's usage, the w
-- windows, the n records, then the index of each distinct task. ARGV: n, the number of
-- distinct tasks t, w, the byte budget, the w windows' length/amount pairs, the n ids, the n
-- records, each item's task slot (1..t), then t pairs (task, count) and the pairs (bucket,
-- count). Returns the last sequence number.
local n, t, w = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local refused = hit(6, w, 5)
if refused then return refused end
local k, a = 5 + w, 4 + 2 * w
local bytes = 0
for i = 1, n do bytes = bytes + #ARGV[a + n + i] end
local over = over_budget(KEYS[5], bytes, ARGV[4])
if over then return over end
count(KEYS[5], 'interactions', bytes, n)
local first = redis.call('INCRBY', KEYS[1], n) - n + 1
local function in_slices(command, key, args)
  for i = 1, #args, 1000 do
    local j = math.min(i + 999, #args)
    if key then
      redis.call(command, key, unpack(args, i, j))
    else
      redis.call(command, unpack(args, i, j))
    end
  end
end
local records, index, by_task = {}, {}, {}
for i = 1, n do
  local id, seq, slot = ARGV[a + i], first + i - 1, tonumber(ARGV[a + 2 * n + i])
  records[#records + 1] = KEYS[k + i]
  records[#records + 1] = ARGV[a + n + i]
  index[#index + 1] = seq
  index[#index + 1] = id
  local of_task = by_task[slot] or {}
  of_task[#of_task + 1] = seq
  of_task[#of_task + 1] = id
  by_task[slot] = of_task
end
in_slices('MSET', nil, records)
in_slices('ZADD', KEYS[2], index)
for slot, of_task in pairs(by_task) do in_slices('ZADD', KEYS[k + n + slot], of_task) end
local pairs_from = a + 3 * n + 1
for j = pairs_from, #ARGV, 2 do
  local hash = (j < pairs_from + 2 * t) and KEYS[3] or KEYS[4]
  redis.call('HINCRBY', hash, ARGV[j], ARGV[j + 1])
end
return first + n - 1
