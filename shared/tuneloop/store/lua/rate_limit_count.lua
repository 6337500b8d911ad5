--#include rate_limit_hit
-- Count every window of KEYS (ARGV: their length/amount pairs) on its own.
return hit(1, #KEYS, 1)
