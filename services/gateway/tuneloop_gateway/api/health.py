"""Liveness and readiness."""

from redis.exceptions import RedisError

from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.errors import problem
from tuneloop_gateway.extensions import services

blp = Blueprint("health", __name__, description="Liveness and readiness")


@blp.route("/healthz")
@blp.doc(security=[])
def healthz() -> dict:
    """Answer while the process is up."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.doc(security=[])
def readyz() -> object:
    """Answer 200 when Redis is reachable and at least one worker answers a ping."""
    svc = services()
    try:
        svc.store.ping()
    except RedisError:
        return problem(503, "Service Unavailable", "redis is not reachable")
    workers = svc.celery.control.ping(timeout=1.0)
    if not workers:
        return problem(503, "Service Unavailable", "no worker answered a ping")
    return {"status": "ready", "workers": sorted(name for w in workers for name in w)}
