"""Models: the keyword baseline and every fine-tuned agent; ask one for an answer."""

from flask.views import MethodView
from flask_smorest import abort

from tuneloop import contracts
from tuneloop.agent import registry
from tuneloop.contracts import ALIASES
from tuneloop.llm import kind, spec
from tuneloop.schemas.models import (
    ModelDeletedSchema,
    ModelListSchema,
    ModelQuerySchema,
    ModelSchema,
    ResponseInSchema,
    ResponseSchema,
)
from tuneloop.store import prefixes
from tuneloop.store.models import ModelInUseError
from tuneloop_gateway import llm_chat, prefixed
from tuneloop_gateway.auth import JOBS, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.extensions import project_store, services

blp = Blueprint("models", __name__, url_prefix="/v1/models", description="Agents to ask")


def builtin_meta(model_id: str) -> dict | None:
    """Describe a built-in model (one that needs no training), or None."""
    if registry.BUILTIN.get(model_id) == spec.FORMAT:
        return base_model_meta(model_id)
    if model_id in registry.UNTRAINED:
        return _configured(model_id, registry.UNTRAINED[model_id])
    agent = registry.builtin(model_id)
    return None if agent is None else _configured(model_id, agent.describe())


def base_model_meta(model_id: str) -> dict:
    """Describe an operator's base language model (described without loading it)."""
    return _configured(model_id, {"format": spec.FORMAT, "location": kind.LOCATIONS.get(model_id)})


def _configured(model_id: str, described: dict) -> dict:
    """Describe a model that exists without training: the listing's fields around described."""
    return {
        "id": model_id,
        "object": "model",
        "created_at": 0,
        "owned_by": "tuneloop",
        "base_model": None,
        "job_id": None,
        **described,
        "training_examples": None,
        "size_bytes": 0,
    }


def get_model_or_404(model_id: str) -> dict:
    """Return a model's description (by its id or an alias naming it) or answer 404."""
    if model_id in ALIASES:
        return aliased_or_404(model_id)
    builtin = builtin_meta(model_id)
    if builtin is not None:
        return builtin
    meta = project_store().models.meta(model_id)
    if meta is None:
        abort(404, message=f"no model with id {model_id!r}")
    return meta


def aliased_or_404(name: str) -> dict:
    """Return the description of the model an alias names, with the alias, or answer 404."""
    models = project_store().models
    target = models.alias(name)
    if target is None:
        abort(404, message=f"no model is {name!r} yet: no job has passed its promote_if rules")
    meta = models.meta(target["model_id"])
    if meta is None:
        abort(
            404,
            message=f"{name!r} names model {target['model_id']!r} (promoted by job "
            f"{target['job_id']}), which no longer exists",
        )
    return {**meta, "alias": {"name": name, **target}}


def with_aliases(models: list[dict]) -> list[dict]:
    """Return the models, each with the names of the aliases that name it (one Redis read)."""
    named: dict[str, list[str]] = {}
    for name, target in project_store().models.aliases(ALIASES).items():
        named.setdefault(target["model_id"], []).append(name)
    return [{**model, "aliases": named.get(model["id"], [])} for model in models]


@blp.route("")
class Models(MethodView):
    """All models."""

    @requires(blp, JOBS)
    @blp.arguments(ModelQuerySchema, location="query")
    @blp.response(200, ModelListSchema)
    def get(self, query: dict) -> dict:
        """List the baseline, the base language models and every fine-tuned model."""
        prefix = query.get("id_prefix")
        configured = [*sorted(registry.BUILTIN), *sorted(registry.UNTRAINED)]
        builtins = [builtin_meta(m) for m in configured if m.startswith(prefix or "")]
        return {"data": with_aliases([*builtins, *fine_tuned(prefix)])}


def fine_tuned(prefix: str | None) -> list[dict]:
    """The project's fine-tuned models, oldest first, or those whose ids start with prefix."""
    models = project_store().models
    if prefix is None:
        return models.list()
    found = prefixed.found_or_422(models.with_prefix(prefix, cap=prefixes.MAX_MATCHES), prefix)
    return [meta for mid in reversed(found) if (meta := models.meta(mid)) is not None]


@blp.route("/<model:model_id>")
class Model(MethodView):
    """One model."""

    @requires(blp, JOBS)
    @blp.response(200, ModelSchema)
    def get(self, model_id: str) -> dict:
        """Describe one model, by its id or by an alias (latest-promoted)."""
        return with_aliases([get_model_or_404(model_id)])[0]

    @requires(blp, JOBS)
    @blp.doc(operationId="models_delete")
    @blp.response(200, ModelDeletedSchema)
    @blp.alt_response(
        409, response="CONFLICT", description="an alias names the model, or its job still runs"
    )
    def delete(self, model_id: str) -> dict:
        """Delete a fine-tuned model (OpenAI's models.delete): its record, and its files.

        A built-in or base model is configured, not stored, and an alias is a name: 400. A
        model an alias names is refused (409) until the alias moves, and so is one whose job
        has not ended. The job that made it stays. A language model's adapter is deleted from
        the artifact store by the llm worker (the gateway holds no artifact credentials).
        """
        if model_id in registry.BUILTIN or model_id in registry.UNTRAINED:
            abort(400, message=f"model {model_id!r} is built in or a base model, not deletable")
        if model_id in ALIASES:
            abort(400, message=f"{model_id!r} is an alias, not a model: delete the model it names")
        try:
            meta = project_store().models.delete(model_id, ALIASES)
        except ModelInUseError as exc:
            abort(409, message=in_use(model_id, exc))
        if meta is None:
            abort(404, message=f"no model with id {model_id!r}")
        if meta.get("format") == spec.FORMAT and meta.get("adapter"):
            services().celery.send_task(
                contracts.LLM_DELETE_FILES, args=(model_id, meta["adapter"]), queue=spec.QUEUE
            )
        return {"id": model_id, "object": "model", "deleted": True}


def in_use(model_id: str, exc: ModelInUseError) -> str:
    """Say why a model cannot be deleted yet."""
    if exc.alias:
        return f"model {model_id!r} is named by alias {exc.alias}: it is kept while it is"
    return f"model {model_id!r} belongs to a job that is {exc.job_status}: cancel it or wait"


@blp.route("/<model:model_id>/responses")
class ModelResponses(MethodView):
    """Answers of a model."""

    @requires(blp, JOBS)
    @blp.arguments(ResponseInSchema)
    @blp.response(200, ResponseSchema)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE", description="no worker answered in time")
    def post(self, body: dict, model_id: str) -> dict:
        """Ask the model (by its id or an alias) to answer one input (a worker answers)."""
        return ask_model(model_id, body["input"])


def ask_model(model_id: str, text: str) -> dict:
    """Have a worker answer text with the model; answer 404 or 503 (the API's and the pages')."""
    meta = get_model_or_404(model_id)
    model_id = meta["id"]  # the worker is sent the model an alias names
    if model_id in registry.UNTRAINED:
        abort(400, message=f"{model_id!r} is a base model: fine-tune it first (POST /v1/jobs)")
    if llm_chat.is_language_model(meta):
        return {**ask_language_model(model_id, text), "model": model_id}
    svc = services()
    reply_key = svc.store.replies.new_key()
    timeout = svc.settings.respond_timeout
    # The worker pushes its answer to reply_key; Celery's result backend is not used, so
    # a Redis outage cannot leave this process with a broken result consumer.
    svc.celery.send_task(
        contracts.RESPOND,
        args=(model_id, text, reply_key),
        expires=timeout,
        ignore_result=True,
    )
    found, answer = svc.store.replies.wait(reply_key, timeout)
    if not found:
        abort(503, message=f"no worker answered within {timeout:g}s")
    if answer is None:
        abort(404, message=f"no model with id {model_id!r}")
    return {**answer, "model": model_id}


def ask_language_model(model_id: str, text: str) -> dict:
    """A language model's answer to text as one user message (the llm worker answers)."""
    messages = [{"role": "user", "content": text}]
    done = llm_chat.complete(model_id, model_id, messages, llm_chat.params_of({}))
    return {
        "text": done["choices"][0]["message"]["content"],
        "confidence": None,
        "reasoning": f"generated by the language model {model_id}",
        "task_type": None,
    }
