"""Pure stage functions: JSON-able data in, JSON-able data out; no Redis, no Celery."""
