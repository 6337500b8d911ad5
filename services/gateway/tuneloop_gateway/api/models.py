"""Models: the keyword baseline and every fine-tuned agent; ask one for an answer."""

from flask.views import MethodView
from flask_smorest import abort

from tuneloop import contracts
from tuneloop.agent import registry
from tuneloop.schemas.models import (
    ModelListSchema,
    ModelSchema,
    ResponseInSchema,
    ResponseSchema,
)
from tuneloop_gateway.auth import JOBS, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.extensions import services

blp = Blueprint("models", __name__, url_prefix="/v1/models", description="Agents to ask")


def builtin_meta(model_id: str) -> dict | None:
    """Describe a built-in model (one that needs no training), or None."""
    agent = registry.builtin(model_id)
    if agent is None:
        return None
    return {
        "id": model_id,
        "object": "model",
        "created_at": 0,
        "owned_by": "tuneloop",
        "base_model": None,
        "job_id": None,
        **agent.describe(),
        "training_examples": None,
        "size_bytes": 0,
    }


def get_model_or_404(model_id: str) -> dict:
    """Return a model's description or answer 404."""
    builtin = builtin_meta(model_id)
    if builtin is not None:
        return builtin
    meta = services().store.models.meta(model_id)
    if meta is None:
        abort(404, message=f"no model with id {model_id!r}")
    return meta


@blp.route("")
class Models(MethodView):
    """All models."""

    @requires(blp, JOBS)
    @blp.response(200, ModelListSchema)
    def get(self) -> dict:
        """List the baseline and every fine-tuned model."""
        builtins = [builtin_meta(mid) for mid in sorted(registry.BUILTIN)]
        return {"data": [*builtins, *services().store.models.list()]}


@blp.route("/<model_id>")
class Model(MethodView):
    """One model."""

    @requires(blp, JOBS)
    @blp.response(200, ModelSchema)
    def get(self, model_id: str) -> dict:
        """Describe one model."""
        return get_model_or_404(model_id)


@blp.route("/<model_id>/responses")
class ModelResponses(MethodView):
    """Answers of a model."""

    @requires(blp, JOBS)
    @blp.arguments(ResponseInSchema)
    @blp.response(200, ResponseSchema)
    def post(self, body: dict, model_id: str) -> dict:
        """Ask the model to answer one input (a worker answers)."""
        get_model_or_404(model_id)
        svc = services()
        reply_key = svc.store.replies.new_key()
        timeout = svc.settings.respond_timeout
        # The worker pushes its answer to reply_key; Celery's result backend is not used, so
        # a Redis outage cannot leave this process with a broken result consumer.
        svc.celery.send_task(
            contracts.RESPOND,
            args=(model_id, body["input"], reply_key),
            expires=timeout,
            ignore_result=True,
        )
        found, answer = svc.store.replies.wait(reply_key, timeout)
        if not found:
            abort(503, message=f"no worker answered within {timeout:g}s")
        if answer is None:
            abort(404, message=f"no model with id {model_id!r}")
        return answer
