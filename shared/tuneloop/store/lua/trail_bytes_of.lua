--#include audit_bytes
-- The bytes of the events of the audit trail at KEYS[1] (0 without one).
return trail_bytes(KEYS[1])
