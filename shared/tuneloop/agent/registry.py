"""Every agent type, registered once by model format; loaded lazily so light services stay light."""

from importlib import import_module

from tuneloop.agent.protocol import Agent
from tuneloop.contracts import BASELINE_MODEL_ID

# format -> "module:Class". Adding an agent type is one module plus one line here.
FORMATS: dict[str, str] = {
    "tuneloop.keyword/1": "tuneloop.agent.baseline:KeywordAgent",
    "tuneloop.softmax/1": "tuneloop.agent.learned:LearnedAgent",
}
# Models that exist without training: id -> format.
BUILTIN: dict[str, str] = {BASELINE_MODEL_ID: "tuneloop.keyword/1"}


def agent_class(fmt: str) -> type[Agent]:
    """Return the class of a model format; KeyError when no agent has that format."""
    module, _, name = FORMATS[fmt].partition(":")
    return getattr(import_module(module), name)


def load(fmt: str, model_id: str, payload: bytes) -> Agent:
    """Rebuild a saved agent of the given format."""
    return agent_class(fmt).load(model_id, payload)


def builtin(model_id: str) -> Agent | None:
    """Return a built-in agent by id, or None."""
    fmt = BUILTIN.get(model_id)
    return agent_class(fmt).load(model_id, b"") if fmt else None
