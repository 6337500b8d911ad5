"""Uploaded files: their check (check, pure) and its store side (process)."""
