"""Answer an input with a stored model."""

from celery import shared_task

from tuneloop import contracts
from tuneloop.agent.baseline import KeywordAgent
from tuneloop.agent.learned import LearnedAgent
from tuneloop_worker.runtime import store

CACHE_SIZE = 8
_loaded: dict[str, KeywordAgent | LearnedAgent] = {}


def _load(model_id: str) -> KeywordAgent | LearnedAgent | None:
    """Return the agent of model_id, keeping the last few loaded in this process."""
    if model_id == contracts.BASELINE_MODEL_ID:
        return KeywordAgent()
    if model_id not in _loaded:
        body = store().models.body(model_id)
        if body is None:
            return None
        if len(_loaded) >= CACHE_SIZE:
            _loaded.pop(next(iter(_loaded)))
        _loaded[model_id] = LearnedAgent.from_dict(body)
    return _loaded[model_id]


@shared_task(name=contracts.RESPOND, acks_late=False, ignore_result=True)
def respond(model_id: str, text: str, reply_key: str) -> None:
    """Push the model's answer to text (None when there is no such model) to reply_key."""
    agent = _load(model_id)
    store().replies.send(reply_key, agent.respond(text).to_dict() if agent else None)
