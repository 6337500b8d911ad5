"""The language-model kind's names and the operator's base-model list (no heavy imports)."""

import re
from typing import Final

FORMAT: Final = "tuneloop.lora/1"  # a base model, or a base model plus a LoRA adapter
QUEUE: Final = "tuneloop.llm"  # the llm worker's pipeline stages (fine_tune, evaluate_*)
SERVE_QUEUE: Final = "tuneloop.llm.interactive"  # the llm worker's chat completions
METHODS: Final = ("supervised", "dpo")
# The stages of a language-model job that need torch: they run on the llm worker's queue.
HEAVY_STAGES: Final = ("evaluate_baseline", "fine_tune", "evaluate_fine_tuned")


def job_files(jid: str) -> str:
    """The artifact-store prefix of a job's own files (its epoch checkpoints)."""
    return f"jobs/{jid}"


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,95}")


class BaseModelsError(ValueError):
    """TUNELOOP_BASE_MODELS is not a list of name=location."""


def parse_base_models(text: str) -> dict[str, str]:
    """Return name -> location from "name=location,..." (a local directory or a hub id)."""
    models: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, sep, location = (s.strip() for s in entry.partition("="))
        if not sep or not name or not location:
            raise BaseModelsError(f"TUNELOOP_BASE_MODELS entry {entry!r} is not name=location")
        if not _NAME.fullmatch(name):
            raise BaseModelsError(f"TUNELOOP_BASE_MODELS name {name!r} has characters not allowed")
        if name in models:
            raise BaseModelsError(f"TUNELOOP_BASE_MODELS names {name!r} twice")
        models[name] = location
    return models
