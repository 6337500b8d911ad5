-- The job scripts take KEYS[1] the job's hash, KEYS[2] the job list (scored by the job's
-- sequence number), then one per-status index per status, in contracts.STATUSES' order.
-- INDEX names each status's index; AFTER_INDEXES is the first KEYS slot after them.
local STATUSES = {{STATUSES}}
local INDEX = {}
for i, status in ipairs(STATUSES) do INDEX[status] = KEYS[2 + i] end
local AFTER_INDEXES = 3 + #STATUSES
