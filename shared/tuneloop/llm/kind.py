"""The language-model kind's registration: the operator's base models, by name and location."""

from tuneloop.agent import registry
from tuneloop.llm.spec import FORMAT

AGENT = "tuneloop.llm.agent:LoraAgent"
TRAINER = "tuneloop.llm.stage:train"
# Base model name -> its location (a local Hugging Face directory or a hub id).
LOCATIONS: dict[str, str] = {}


def register_base_models(models: dict[str, str]) -> None:
    """Register the kind with each base model as a built-in model and a base to fine-tune."""
    registry.register(
        FORMAT, agent=AGENT, trainer=TRAINER, base_models=tuple(models), builtin=tuple(models)
    )
    LOCATIONS.update(models)
