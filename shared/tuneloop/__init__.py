"""Tuneloop's shared package: imported by the gateway and the worker."""
