"""Thin Celery tasks: serialization, retries and acks; the logic lives in tuneloop."""
