"""Stage runners: read a job's inputs from the store, call a pure stage, write its outputs."""
