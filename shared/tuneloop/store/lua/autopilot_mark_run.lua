-- Set fields on the run of one job in an autopilot's (bounded) list of runs. KEYS: the runs
-- list. ARGV: the job id, the fields (a JSON object). Returns 1, or 0 when no run is that job's.
local runs = redis.call('LRANGE', KEYS[1], 0, -1)
for i, raw in ipairs(runs) do
  local run = cjson.decode(raw)
  if run.job_id == ARGV[1] then
    for k, v in pairs(cjson.decode(ARGV[2])) do run[k] = v end
    redis.call('LSET', KEYS[1], i - 1, cjson.encode(run))
    return 1
  end
end
return 0
