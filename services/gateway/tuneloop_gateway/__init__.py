"""Tuneloop's Flask gateway."""
