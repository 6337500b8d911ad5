--#include rate_limit_hit
-- Read a job in one step. KEYS: the job's hash, its steps, its deliveries, then the w
-- rate-limit windows. ARGV: the kept answer's field, the digest of the state the caller
-- already has an answer for ("" for none), the reading project's name as JSON ("" for any),
-- then the windows' length/amount pairs. Another project's job reads as no job (a job
-- stored before projects is the default project's). Returns
-- {'kept', body} when an ended job's kept answer still has the job's stamp; {'same'} when the
-- job's state has the caller's digest; {'none'} without a job; else {'fields', the fields'
-- values, steps done, the deliveries hash as a flat list, the state's digest, its stamp ('' while
-- the job is active: no answer is kept for it)}; or a refusal (ratelimit.raise_if_over).
local FIELDS = {{FIELDS}}
local TERMINAL = {{TERMINAL}}
-- stamp(done, flat): what can still change once a job has ended (steps a late stage
-- completes, its deliveries): the steps done, then the sorted "field=value"s, joined by '|'.
-- The one place a stamp is made: an answer is kept with the stamp its read returned.
local function stamp(done, flat)
  local parts = {}
  for i = 1, #flat, 2 do parts[#parts + 1] = flat[i] .. '=' .. flat[i + 1] end
  table.sort(parts)
  return done .. '|' .. table.concat(parts, '|')
end
local w = #KEYS - 3
local refused = hit(4, w, 4)
if refused then return refused end
local project = redis.call('HGET', KEYS[1], 'project') or '"default"'  -- stored before projects
if ARGV[3] ~= '' and project ~= ARGV[3] then return {'none'} end
local done, flat = redis.call('SCARD', KEYS[2]), redis.call('HGETALL', KEYS[3])
local kept = redis.call('HGET', KEYS[1], ARGV[1])
if kept then
  local cut = string.find(kept, '\n', 1, true)
  if cut and string.sub(kept, 1, cut - 1) == stamp(done, flat) then
    return {'kept', string.sub(kept, cut + 1)}
  end
end
local values = redis.call('HMGET', KEYS[1], unpack(FIELDS))
if not values[1] then return {'none'} end
local digest = redis.sha1hex(cjson.encode({values, done, flat}))
if digest == ARGV[2] then return {'same'} end
local status = values[{{STATUS_AT}}]
local ended = status and TERMINAL[cjson.decode(status)]
return {'fields', values, done, flat, digest, ended and stamp(done, flat) or ''}
