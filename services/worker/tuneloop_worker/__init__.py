"""Tuneloop's Celery worker."""
