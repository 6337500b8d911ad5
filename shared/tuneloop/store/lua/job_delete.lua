--#include job_status
--#include job_keys
--#include budget
-- Delete a job and everything stored under its id, in one step: nothing is ever half deleted.
-- After the indexes: the owner's index, the artifact index, the sweeper's suspects, the
-- project's job list, the project's usage (the eval set's and cases' bytes leave it), the lease
-- of each stage, the jobs set of each file the job uses, then every other key of the job (its
-- events, steps, deliveries, eval set, cases, parts, artifacts and their blob chunks), unlinked:
-- Redis frees large values in the background. ARGV: the job id, 'ended' (refuse an active job)
-- or 'any', the owner field as the caller read it, the number of leases, the number of files,
-- then the artifact names as read. Returns {'deleted', object}, {'missing'}, {'active',
-- status}, {'leased', n} (the nth lease is held: a stage is still stopping), or {'changed'}
-- (an owner or an artifact the caller did not read: read again).
local status = job_status(KEYS[1])
if not status then return {'missing'} end
if ARGV[2] == 'ended' and not ended(status) then return {'active', status} end
local owner, index, suspects = AFTER_INDEXES, AFTER_INDEXES + 1, AFTER_INDEXES + 2
local listed, usage = AFTER_INDEXES + 3, AFTER_INDEXES + 4
local first_lease, n_leases, n_files = AFTER_INDEXES + 5, tonumber(ARGV[4]), tonumber(ARGV[5])
for i = 0, n_leases - 1 do
  if redis.call('EXISTS', KEYS[first_lease + i]) == 1 then return {'leased', i + 1} end
end
if (redis.call('HGET', KEYS[1], 'owner') or '') ~= ARGV[3] then return {'changed'} end
if redis.call('SCARD', KEYS[index]) ~= #ARGV - 5 then return {'changed'} end
for i = 6, #ARGV do
  if redis.call('SISMEMBER', KEYS[index], ARGV[i]) == 0 then return {'changed'} end
end
local object = redis.call('HGET', KEYS[1], 'object')
for i = 2, AFTER_INDEXES - 1 do redis.call('ZREM', KEYS[i], ARGV[1]) end
redis.call('ZREM', KEYS[owner], ARGV[1])
redis.call('ZREM', KEYS[listed], ARGV[1])
local eval_bytes = tonumber(redis.call('HGET', KEYS[1], 'eval_set_bytes') or '0')
if eval_bytes > 0 then count(KEYS[usage], 'eval_sets', -eval_bytes, -1) end
count(KEYS[usage], 'cases', -tonumber(redis.call('HGET', KEYS[1], 'cases_bytes') or '0'), 0)
redis.call('HDEL', KEYS[suspects], ARGV[1])
local first_file = first_lease + n_leases
for i = first_file, first_file + n_files - 1 do redis.call('SREM', KEYS[i], ARGV[1]) end
redis.call('UNLINK', KEYS[1], KEYS[index])
for i = first_file + n_files, #KEYS do redis.call('UNLINK', KEYS[i]) end
return {'deleted', object or false}
