"""Answer an input with a stored model."""

from functools import lru_cache

from celery import current_app, shared_task

from tuneloop import contracts
from tuneloop.agent import registry
from tuneloop.agent.protocol import Agent
from tuneloop_worker.model_cache import ModelCache
from tuneloop_worker.runtime import store


@lru_cache(maxsize=1)
def _cache() -> ModelCache:
    return ModelCache(current_app.conf.tuneloop_settings.model_cache_bytes)


def _load(model_id: str) -> tuple[Agent, int] | None:
    """Load a model and the bytes it holds in memory from the store, or None."""
    builtin = registry.builtin(model_id)
    if builtin is not None:
        return builtin, 0
    loaded = store().models.load(model_id)
    if loaded is None:
        return None
    agent, size = loaded
    return agent, max(size, getattr(agent, "nbytes", 0))  # loaded arrays can be larger


@shared_task(name=contracts.RESPOND, acks_late=False, ignore_result=True)
def respond(model_id: str, text: str, reply_key: str) -> None:
    """Push the model's answer to text (None when there is no such model) to reply_key."""
    agent = _cache().get(model_id, lambda: _load(model_id))
    answer = agent.respond_many([text])[0].to_dict() if agent else None
    store().replies.send(reply_key, answer)
