"""End-to-end tests over a real redis-server, real Celery workers and a gunicorn gateway."""
