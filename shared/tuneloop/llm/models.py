"""Load a base model (a local HF directory or a cached hub id) and base + LoRA adapter, offline."""

import os
from functools import cache
from pathlib import Path
from typing import Any


class ModelUnavailableError(RuntimeError):
    """A base model or adapter location cannot be loaded from this machine."""


def downloads_allowed() -> bool:
    """Return True when the operator allows hub downloads (TUNELOOP_ALLOW_DOWNLOADS=1)."""
    return os.environ.get("TUNELOOP_ALLOW_DOWNLOADS", "") == "1"


@cache
def configure_torch() -> str:
    """Set torch's thread counts once per process; return the device name ("cuda" or "cpu")."""
    import torch
    from transformers.utils import logging

    logging.disable_progress_bar()
    requested = int(os.environ.get("TUNELOOP_TORCH_THREADS", "0") or 0)
    torch.set_num_threads(requested or max(1, len(os.sched_getaffinity(0))))
    return "cuda" if torch.cuda.is_available() else "cpu"


def device() -> str:
    """Return the device models run on: cuda when available, else cpu."""
    return configure_torch()


def _stay_offline() -> None:
    """Put huggingface_hub in offline mode unless downloads are allowed.

    local_files_only alone is not enough: building request headers may fetch a registry
    from the hub. huggingface_hub reads HF_HUB_OFFLINE at import, so set its constant too.
    """
    if downloads_allowed():
        return
    from huggingface_hub import constants

    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True


def _looks_local(location: str) -> bool:
    """Return True when location is a path rather than a hub id ("name" or "org/name")."""
    return location.startswith(("/", ".", "~")) or location.count("/") > 1


def _unavailable(location: str, error: Exception) -> ModelUnavailableError:
    how = (
        "downloads are allowed but it could not be fetched"
        if downloads_allowed()
        else "it is neither a local directory nor in the local hub cache, and downloads are off "
        "(TUNELOOP_ALLOW_DOWNLOADS=1 allows them)"
    )
    return ModelUnavailableError(f"cannot load model {location!r}: {how} ({type(error).__name__})")


def load_base(location: str | Path) -> tuple[Any, Any]:
    """Return (model, tokenizer) for a local HF directory or a hub id, in eval mode on device()."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    where = device()
    _stay_offline()
    location = str(location)
    if not Path(location).expanduser().is_dir() and _looks_local(location):
        raise ModelUnavailableError(f"cannot load model {location!r}: no such directory")
    offline = not downloads_allowed()
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=offline)
        model = AutoModelForCausalLM.from_pretrained(location, local_files_only=offline)
    except (OSError, ValueError) as error:
        raise _unavailable(location, error) from error
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(where).eval(), tokenizer


def load_tuned(location: str | Path, adapter_dir: str | Path, *, merge: bool = False):
    """Return (base + LoRA adapter, tokenizer); merge=True folds the adapter into the weights."""
    from peft import PeftModel

    model, tokenizer = load_base(location)
    if not Path(adapter_dir).is_dir():
        raise ModelUnavailableError(f"cannot load adapter {str(adapter_dir)!r}: no such directory")
    tuned = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    if merge:
        tuned = tuned.merge_and_unload()
    return tuned.to(device()).eval(), tokenizer
