--#include job_update
-- Set a job's fields while it is active. ARGV: the job id, then field/value pairs.
return update_if_active(2)
