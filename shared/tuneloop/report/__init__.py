"""The report's statistics: per-case outcomes, intervals, significance, scope, the gate."""
