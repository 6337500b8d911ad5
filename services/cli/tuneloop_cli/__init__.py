"""The tuneloop command line: a client of the gateway's HTTP API, nothing more."""
