"""The language-model kind's one registration, and where its base models and artifacts are.

register_base_models (called at start-up by the gateway and every worker with the
operator's TUNELOOP_BASE_MODELS) registers the format once with its agent, trainer, hooks
and queue, and each base model as a model a job may fine-tune and chat may ask. Light: the
heavy modules are named as "module:function" and imported only where they run.
"""

import os
from functools import cache

from tuneloop.agent import registry
from tuneloop.llm.spec import FORMAT, HEAVY_STAGES, QUEUE

LOCATIONS: dict[str, str] = {}  # base model name -> local directory or hub id


def register_base_models(models: dict[str, str]) -> None:
    """Register the language-model kind and the operator's base models."""
    LOCATIONS.update(models)
    registry.register(
        FORMAT,
        agent="tuneloop.llm.agent:LoraAgent",
        trainer="tuneloop.llm.stage:train",
        base_models=tuple(models),
        builtin=tuple(models),
        queue=QUEUE,
        queued_stages=HEAVY_STAGES,
        hooks={
            "filter": "tuneloop.llm.hooks:make_filter",
            "resolve": "tuneloop.llm.hooks:resolve",
            "evaluate": "tuneloop.llm.evaluation:evaluate",
            "report": "tuneloop.llm.evaluation:report",
        },
    )


def location(base_model: str) -> str:
    """Return where a registered base model is; KeyError naming the registered ones."""
    try:
        return LOCATIONS[base_model]
    except KeyError:
        raise KeyError(
            f"base model {base_model!r} is not registered here (TUNELOOP_BASE_MODELS names "
            f"{sorted(LOCATIONS) or 'none'})"
        ) from None


def artifacts_url() -> str:
    """Return the artifact store's location (TUNELOOP_ARTIFACTS)."""
    from tuneloop.settings import Settings

    return Settings.from_env().artifacts


@cache
def artifact_store(url: str):  # -> tuneloop.artifact_store.ArtifactStore
    """Return the artifact store at url (one per process)."""
    from tuneloop.artifact_store import open_store

    return open_store(url)


def adapter_cache_dir() -> str:
    """Return the local directory adapters fetched from the artifact store are kept in."""
    return os.environ.get("TUNELOOP_ADAPTER_CACHE") or os.path.join(
        os.environ.get("TUNELOOP_DATA_DIR", ".tuneloop"), "adapter-cache"
    )
