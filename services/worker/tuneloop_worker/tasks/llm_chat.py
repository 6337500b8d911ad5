"""A language model's chat completion, pushed back to the gateway piece by piece.

The gateway waits on the reply list (tuneloop.store.replies): {"delta": text} chunks, then
{"done": true, "finish_reason", "usage"}, or {"error": {"code", "message"}}. The generator
(settings.llm_generator, tuneloop.llm.generation.Generator by default) is imported lazily:
this module loads in any worker, and only the llm worker, which consumes
tuneloop.llm.interactive, imports torch.
"""

import logging
from functools import lru_cache
from importlib import import_module
from typing import Any

from celery import current_app, shared_task

from tuneloop import contracts
from tuneloop.llm import adapters, kind, spec
from tuneloop.settings import Settings
from tuneloop_worker.runtime import store

log = logging.getLogger(__name__)


class ModelNotFoundError(LookupError):
    """No language model by that id here."""


def _settings() -> Settings:
    return current_app.conf.tuneloop_settings


@lru_cache(maxsize=1)
def generator() -> Any:
    """The process's generator, built once from settings.llm_generator ("module:factory")."""
    settings = _settings()
    module, _, name = settings.llm_generator.partition(":")
    return getattr(import_module(module), name)(settings.llm_cache_size)


def adapter_dir_for(meta: dict) -> str | None:
    """Return the local directory of a fine-tuned model's LoRA adapter (None: a base model)."""
    try:
        local = adapters.local_adapter(meta)
    except adapters.AdapterMissingError as exc:
        raise ModelNotFoundError(str(exc)) from None
    return None if local is None else str(local)


def locate(model_id: str) -> tuple[str, str | None]:
    """Return (base location, adapter directory or None) of a language model."""
    if model_id in kind.LOCATIONS:
        return kind.LOCATIONS[model_id], None
    meta = store().models.meta(model_id)
    if meta is None or meta.get("format") != spec.FORMAT:
        raise ModelNotFoundError(f"no language model with id {model_id!r}")
    base = kind.LOCATIONS.get(meta.get("base_model") or "")
    if base is None:
        raise ModelNotFoundError(
            f"model {model_id!r}: base model {meta.get('base_model')!r} unknown"
        )
    return base, adapter_dir_for(meta)


def generate(model_id: str, messages: list[dict], params: dict, reply_key: str) -> None:
    """Stream the completion's pieces to reply_key, then its end (or why it failed)."""
    replies = store().replies
    try:
        base, adapter = locate(model_id)
        stream = generator().stream(
            base,
            adapter,
            messages,
            params["max_tokens"],
            params["temperature"],
            params["top_p"],
            params["stop"],
            params["seed"],
        )
        for piece in stream:
            if piece:
                replies.push(reply_key, {"delta": piece})
    except ModelNotFoundError as exc:
        replies.push(reply_key, {"error": {"code": "model_not_found", "message": str(exc)}})
        return
    except Exception as exc:  # the gateway answers with the reason instead of timing out
        log.exception("chat completion with model %s failed", model_id)
        message = f"{type(exc).__name__}: {exc}"[:500]
        replies.push(reply_key, {"error": {"code": "generation_failed", "message": message}})
        return
    usage = dict(getattr(stream, "usage", None) or {})
    finish = getattr(stream, "finish_reason", None) or "stop"
    replies.push(reply_key, {"done": True, "finish_reason": finish, "usage": usage})


@shared_task(name=contracts.LLM_CHAT, acks_late=False, ignore_result=True)
def llm_chat(model_id: str, messages: list[dict], params: dict, reply_key: str) -> None:
    """Answer a chat with a language model, pushing the answer's pieces to reply_key."""
    generate(model_id, messages, params, reply_key)
