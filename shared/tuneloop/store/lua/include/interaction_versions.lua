-- Pieces of the interaction version scripts (see store/versions.py). retire(ref, created,
-- seq, body): keep a version that seq ended; KEYS 6-8: history, ended, bodies.
-- count_move(hash, from, to): one count moves (to '' only takes it away). current_ref(id):
-- the ref of the interaction's current version, and its creation number. retire_current(
-- record, id, read): when the record still holds read, retire it as the version the next
-- number of the sequence (KEYS[1]) ends and return that number, its ref and creation
-- number; else the script's answer: -1 when the record is gone, 0 when it changed.
local function retire(ref, created, seq, body)
  redis.call('ZADD', KEYS[6], created, ref)
  redis.call('ZADD', KEYS[7], seq, ref)
  redis.call('HSET', KEYS[8], ref, body)
end
local function count_move(hash, from, to)
  if from == to then return end
  if redis.call('HINCRBY', hash, from, -1) <= 0 then redis.call('HDEL', hash, from) end
  if to ~= '' then redis.call('HINCRBY', hash, to, 1) end
end
local function current_ref(id)
  local created = redis.call('ZSCORE', KEYS[2], id)
  return id .. '@' .. (redis.call('HGET', KEYS[5], id) or created), created
end
local function retire_current(record, id, read)
  local current = redis.call('GET', record)
  if not current then return -1 end
  if current ~= read then return 0 end
  local seq = redis.call('INCR', KEYS[1])
  local ref, created = current_ref(id)
  retire(ref, created, seq, current)
  return seq, ref, created
end
