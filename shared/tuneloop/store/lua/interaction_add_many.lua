--#include rate_limit_hit
--#include budget
-- Store a batch of interactions in one script, so a job's snapshot sequence never sees half
-- a batch or a gap. Each command takes many items at once (in slices, within Lua's stack),
-- and the statistics move once per distinct task type and rating bucket, not once per item.
-- The request's rate-limit windows are counted first: a refused request writes nothing else;
-- then the project's byte budget: a batch past it writes nothing.
-- KEYS: the sequence, the index, the two statistics hashes, the project's usage, the count of
-- interactions ever added, the w windows, the n records, then the index of each distinct
-- task, then the index of each distinct model. ARGV: n, the number of distinct tasks t, w,
-- the byte budget, the w windows' length/amount pairs, the n ids, the n records, each item's
-- task slot (1..t), each item's model slot (1.., 0: none), then t pairs (task, count) and the
-- pairs (bucket, count). Returns the last sequence number.
local n, t, w = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local refused = hit(7, w, 5)
if refused then return refused end
local k, a = 6 + w, 4 + 2 * w
local bytes = 0
for i = 1, n do bytes = bytes + #ARGV[a + n + i] end
local over = over_budget(KEYS[5], bytes, ARGV[4])
if over then return over end
count(KEYS[5], 'interactions', bytes, n)
redis.call('INCRBY', KEYS[6], n)
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
local function file_under(groups, slot, seq, id)
  local group = groups[slot] or {}
  group[#group + 1] = seq
  group[#group + 1] = id
  groups[slot] = group
end
local records, index, by_task, by_model = {}, {}, {}, {}
for i = 1, n do
  local id, seq = ARGV[a + i], first + i - 1
  records[#records + 1] = KEYS[k + i]
  records[#records + 1] = ARGV[a + n + i]
  index[#index + 1] = seq
  index[#index + 1] = id
  file_under(by_task, tonumber(ARGV[a + 2 * n + i]), seq, id)
  local model = tonumber(ARGV[a + 3 * n + i])
  if model > 0 then file_under(by_model, model, seq, id) end
end
in_slices('MSET', nil, records)
in_slices('ZADD', KEYS[2], index)
for slot, of_task in pairs(by_task) do in_slices('ZADD', KEYS[k + n + slot], of_task) end
for slot, of_model in pairs(by_model) do in_slices('ZADD', KEYS[k + n + t + slot], of_model) end
local pairs_from = a + 4 * n + 1
for j = pairs_from, #ARGV, 2 do
  local hash = (j < pairs_from + 2 * t) and KEYS[3] or KEYS[4]
  redis.call('HINCRBY', hash, ARGV[j], ARGV[j + 1])
end
return first + n - 1
