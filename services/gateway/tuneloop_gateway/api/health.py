"""Liveness and readiness."""

from celery import Celery
from kombu.exceptions import KombuError
from marshmallow import Schema, fields
from redis import Redis
from redis.exceptions import OutOfMemoryError, RedisError, ResponseError

from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE
from tuneloop.store import Store, keys
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.errors import problem
from tuneloop_gateway.extensions import services

blp = Blueprint("health", __name__, description="Liveness and readiness")


class HealthSchema(Schema):
    """The process answers."""

    status = fields.String()


# Every queue the service needs a consumer on: the stages, and the answers of models.
NEEDED_QUEUES = (PIPELINE_QUEUE, INTERACTIVE_QUEUE)


class ReadySchema(HealthSchema):
    """Redis answers, and these workers answered (each needed queue has a consumer)."""

    workers = fields.List(fields.String())


@blp.route("/healthz")
@blp.doc(security=[], operationId="healthz")
@blp.response(200, HealthSchema)
def healthz() -> dict:
    """Answer while the process is up."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.doc(security=[], operationId="readyz")
@blp.response(200, ReadySchema)
@blp.alt_response(
    503,
    response="SERVICE_UNAVAILABLE",
    description="Redis is unreachable or refuses writes (full: the figures are in the detail), "
    "or a needed queue (pipeline, interactive) has no consumer",
)
def readyz() -> object:
    """Answer 200 when Redis takes writes and every needed queue has a consumer."""
    svc = services()
    if not _redis_answers(svc.store):
        return problem(503, "Service Unavailable", "redis is not reachable")
    if (refusal := _refuses_writes(svc.store.redis)) is not None:
        return problem(503, "Service Unavailable", refusal, headers={"Retry-After": "5"})
    queues = _active_queues(svc.celery)
    if queues is None:
        return problem(503, "Service Unavailable", "the broker is not reachable")
    consumed = {q.get("name") for qs in queues.values() for q in qs}
    if lacking := [q for q in NEEDED_QUEUES if q not in consumed]:
        detail = f"no worker consumes the queue(s) {', '.join(lacking)}"
        return problem(503, "Service Unavailable", detail)
    return {"status": "ready", "workers": sorted(queues)}


def _active_queues(celery: Celery) -> dict | None:
    """Return each answering worker's queues, or None when the broker cannot be reached.

    Tried twice: the first try after a Redis restart may meet a pooled connection from
    before it, which fails once and is then replaced.
    """
    for _ in range(2):
        try:
            return celery.control.inspect(timeout=1.0).active_queues() or {}
        except (RedisError, OSError, KombuError):
            continue
    return None


def _redis_answers(store: Store) -> bool:
    """Ping Redis, once more on failure: a pooled connection from before a restart fails once."""
    for _ in range(2):
        try:
            return store.ping()
        except RedisError:
            continue
    return False


def _refuses_writes(redis: Redis) -> str | None:
    """Why Redis refuses writes now (full, read-only), or None: a small write tells."""
    try:
        redis.set(keys.READY_PROBE, "1", ex=60)
    except OutOfMemoryError:
        try:
            memory = redis.info("memory")
        except RedisError:
            memory = {}
        return full_detail(memory)
    except ResponseError as exc:  # a read-only replica, a failed save (MISCONF)...
        return f"redis refuses writes: {exc}"
    except RedisError:
        return None  # it answered a ping just now: the queue check says the rest
    return None


def full_detail(memory: dict) -> str:
    """Say that the store is full, with INFO memory's figures."""
    used, most = memory.get("used_memory"), memory.get("maxmemory")
    policy = memory.get("maxmemory_policy", "unknown")
    figures = (
        f"Redis uses {_mib(used)} of its maxmemory of {_mib(most)}, with maxmemory-policy {policy},"
        if isinstance(used, int) and isinstance(most, int)
        else "Redis is at its maxmemory"
    )
    return f"the store is full: {figures} and refuses writes; free memory or raise maxmemory"


def _mib(size: int) -> str:
    """Bytes, and the same in MiB."""
    return f"{size} bytes ({size / 2**20:.1f} MiB)"
