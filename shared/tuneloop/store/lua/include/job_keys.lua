-- The job scripts take KEYS[1] the job's hash, KEYS[2] the job list (scored by the job's
-- sequence number), then one per-status index per status (store/jobs.py builds them and
-- passes INDEX_SLOTS, each status's slot, and AFTER_INDEXES, the first slot after them).
local INDEX_SLOT = {{INDEX_SLOTS}}
local AFTER_INDEXES = {{AFTER_INDEXES}}
