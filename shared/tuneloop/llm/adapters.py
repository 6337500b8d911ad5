"""A fine-tuned language model's adapter on this machine: fetched once from the artifact store."""

from pathlib import Path

from tuneloop.llm import kind


class AdapterMissingError(LookupError):
    """The model names an adapter the artifact store does not hold."""


def local_adapter(meta: dict) -> Path | None:
    """Return the local directory of the adapter a model's meta names (None: a base model).

    Adapters are immutable under their key, so a copy fetched once (marked complete after
    the fetch) is reused by every later load in this process and the next.
    """
    key = meta.get("adapter")
    if not key:
        return None
    local = Path(kind.adapter_cache_dir()) / key
    done = local / ".complete"
    if not done.exists():
        if not kind.artifact_store(kind.artifacts_url()).get_dir(key, local):
            raise AdapterMissingError(f"the adapter {key!r} of model {meta.get('id')!r} is gone")
        done.touch()
    return local
