"""Every model kind, registered once by model format; loaded lazily so light services stay light.

A kind is an agent class (answer, describe, save, load), optionally the trainer that makes
one from a job's rows (tuneloop.agent.trainer) and the evaluator that answers eval cases with
it. The fine_tune and evaluate_* stages call the kind's own; a fine-tuning job trains the
kind its `model` (a base model) names. Kinds beyond the built-in ones come from the modules
TUNELOOP_MODEL_KINDS lists, imported at start-up (load_kinds): each calls register once.
"""

from collections.abc import Callable
from importlib import import_module

from tuneloop.agent.protocol import Agent
from tuneloop.agent.trainer import Evaluator, Trainer
from tuneloop.contracts import BASELINE_MODEL_ID
from tuneloop.encoder import spec as encoder_spec
from tuneloop.encoder.spec import BASE_MODEL as ENCODER_BASE_MODEL
from tuneloop.encoder.spec import FORMAT as ENCODER

KEYWORD, SOFTMAX = "tuneloop.keyword/1", "tuneloop.softmax/1"
# format -> "module:Class". Adding an agent type is one module plus one register call.
FORMATS: dict[str, str] = {
    KEYWORD: "tuneloop.agent.baseline:KeywordAgent",
    SOFTMAX: "tuneloop.agent.learned:LearnedAgent",
    ENCODER: "tuneloop.encoder.agent:EncoderAgent",
}
# format -> "module:function": the trainer that makes a model of that format.
TRAINERS: dict[str, str] = {
    SOFTMAX: "tuneloop.trainers.softmax:train",
    ENCODER: "tuneloop.encoder.trainer:train",
}
# format -> "module:function": the evaluator, when the kind has its own (else answer_cases).
EVALUATORS: dict[str, str] = {}
DEFAULT_EVALUATOR = "tuneloop.agent.trainer:answer_cases"
# format -> the Celery queue its heavy stages run on (kinds that need a worker of their own).
QUEUES: dict[str, str] = {}
# format -> the stages of its jobs that run on that queue.
QUEUED_STAGES: dict[str, tuple[str, ...]] = {}
# format -> {hook: "module:function"}: a kind's own step inside a generic stage. Hooks:
# "filter" (request, excluded inputs) -> a QualityFilter; "resolve" (request, n_train) ->
# hyperparameters; "evaluate" (store, job, name, model_id) -> None; "report" (store, job,
# seed) -> the report's evaluation part; "embed" (texts, cache) -> Embedded: the kind reads
# its inputs as embeddings, which the embed stage computes ahead, fanned out over the
# workers, into the embedding cache. A kind without a hook gets the stand-in agent's step.
HOOKS: dict[str, dict[str, str]] = {ENCODER: {"embed": "tuneloop.encoder.embedding:embed"}}
# Models that exist without training: id -> format.
BUILTIN: dict[str, str] = {BASELINE_MODEL_ID: KEYWORD}
# Base models that answer nothing until trained (listed by GET /v1/models): id -> description.
UNTRAINED: dict[str, dict] = {
    ENCODER_BASE_MODEL: {"format": ENCODER, "encoder": encoder_spec.ENCODER}
}
# The base models a fine-tuning job may name (its `model`): id -> the format it trains.
BASE_MODELS: dict[str, str] = {BASELINE_MODEL_ID: SOFTMAX, ENCODER_BASE_MODEL: ENCODER}


def register(
    fmt: str,
    agent: str,
    trainer: str | None = None,
    evaluator: str | None = None,
    base_models: tuple[str, ...] = (),
    builtin: tuple[str, ...] = (),
    queue: str | None = None,
    queued_stages: tuple[str, ...] = (),
    hooks: dict[str, str] | None = None,
) -> None:
    """Register a model kind: its agent, trainer, evaluator, hooks ("module:name"), model ids,
    and the queue its queued_stages run on."""
    FORMATS[fmt] = agent
    if trainer is not None:
        TRAINERS[fmt] = trainer
    if evaluator is not None:
        EVALUATORS[fmt] = evaluator
    if queue is not None:
        QUEUES[fmt], QUEUED_STAGES[fmt] = queue, queued_stages
    if hooks:
        HOOKS.setdefault(fmt, {}).update(hooks)
    BASE_MODELS.update(dict.fromkeys(base_models, fmt))
    BUILTIN.update(dict.fromkeys(builtin, fmt))


def load_kinds(modules: str) -> None:
    """Import each module a comma-separated list names: each registers its kind(s)."""
    for name in filter(None, (m.strip() for m in modules.split(","))):
        import_module(name)


def _named(ref: str) -> object:
    """Return the object "module:name" names, importing the module."""
    module, _, name = ref.partition(":")
    return getattr(import_module(module), name)


def agent_class(fmt: str) -> type[Agent]:
    """Return the class of a model format; KeyError when no agent has that format."""
    return _named(FORMATS[fmt])  # type: ignore[return-value]


def trainer(fmt: str) -> Trainer:
    """Return the trainer of a model format; KeyError when nothing trains that format."""
    return _named(TRAINERS[fmt])  # type: ignore[return-value]


def evaluator(fmt: str) -> Evaluator:
    """Return the evaluator of a model format (answer_cases unless the kind has its own)."""
    return _named(EVALUATORS.get(fmt, DEFAULT_EVALUATOR))  # type: ignore[return-value]


def trained_format(base_model: str) -> str:
    """Return the format a job naming base_model trains; KeyError for an unknown base model."""
    return BASE_MODELS[base_model]


def hook(fmt: str, name: str) -> Callable | None:
    """Return a kind's own hook of that name, or None when it uses the stand-in agent's step."""
    ref = HOOKS.get(fmt, {}).get(name)
    return _named(ref) if ref else None  # type: ignore[return-value]


def job_hook(base_model: str, name: str) -> Callable | None:
    """Return the hook of the kind a job naming base_model trains, or None."""
    fmt = BASE_MODELS.get(base_model)
    return hook(fmt, name) if fmt else None


def stage_queues(base_model: str) -> dict[str, str]:
    """Return stage -> queue for a job naming base_model ({} : every stage on the default)."""
    fmt = BASE_MODELS.get(base_model)
    if fmt not in QUEUES:
        return {}
    return dict.fromkeys(QUEUED_STAGES[fmt], QUEUES[fmt])


def load(fmt: str, model_id: str, payload: bytes) -> Agent:
    """Rebuild a saved agent of the given format."""
    return agent_class(fmt).load(model_id, payload)


def builtin(model_id: str) -> Agent | None:
    """Return a built-in agent by id, or None."""
    fmt = BUILTIN.get(model_id)
    return agent_class(fmt).load(model_id, b"") if fmt else None
