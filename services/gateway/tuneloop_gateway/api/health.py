"""Liveness and readiness."""

from marshmallow import Schema, fields
from redis.exceptions import RedisError

from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.errors import problem
from tuneloop_gateway.extensions import services

blp = Blueprint("health", __name__, description="Liveness and readiness")


class HealthSchema(Schema):
    """The process answers."""

    status = fields.String()


class ReadySchema(HealthSchema):
    """Redis answers and these workers answered a ping."""

    workers = fields.List(fields.String())


@blp.route("/healthz")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def healthz() -> dict:
    """Answer while the process is up."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.doc(security=[])
@blp.response(200, ReadySchema)
@blp.alt_response(
    503, response="SERVICE_UNAVAILABLE", description="Redis or every worker is unreachable"
)
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
