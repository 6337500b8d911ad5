"""A language model's chat completion: sent to the llm worker, its pieces read back from Redis.

The worker (tuneloop_worker.tasks.llm_chat) pushes {"delta"} chunks, then {"done",
"finish_reason", "usage"} or {"error"}, to a reply list; each is popped with a timeout
(settings.llm_timeout), so a lost worker is a 503, never a hung request. The answer is one
chat.completion, or OpenAI's chat.completion.chunk server-sent events ending with [DONE].
"""

import json
import uuid
from collections.abc import Iterator
from typing import NoReturn

from flask_smorest import abort

from tuneloop import contracts
from tuneloop.llm import spec
from tuneloop.timeutil import now
from tuneloop_gateway.extensions import services

DEFAULT_MAX_TOKENS = 256
STATUS = {"model_not_found": 404}  # any other error of the worker: 503


def is_language_model(meta: dict) -> bool:
    """Whether a model (its description) is a base language model or one fine-tuned from it."""
    return meta.get("format") == spec.FORMAT


def params_of(body: dict) -> dict:
    """The sampling parameters of a validated request, with OpenAI's defaults."""
    stop = body.get("stop")
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    temperature, top_p = body.get("temperature"), body.get("top_p")
    return {
        "max_tokens": limit,
        "temperature": 1.0 if temperature is None else temperature,
        "top_p": 1.0 if top_p is None else top_p,
        "stop": [stop] if isinstance(stop, str) else list(stop or []),
        "seed": body.get("seed"),
    }


def turns(messages: list[dict]) -> list[dict]:
    """The messages as {role, content} with text content."""
    return [{"role": m["role"], "content": m.get("content") or ""} for m in messages]


def failed(error: dict) -> NoReturn:
    """Answer the worker's error: 404 for an unknown model, else 503."""
    abort(STATUS.get(error.get("code"), 503), message=error.get("message") or "generation failed")


def start(model_id: str, messages: list[dict], params: dict) -> str:
    """Send the completion to the llm worker's interactive queue; return the reply key."""
    svc = services()
    reply_key = svc.store.replies.new_key()
    svc.celery.send_task(
        contracts.LLM_CHAT,
        args=(model_id, turns(messages), params, reply_key),
        queue=spec.SERVE_QUEUE,
        expires=svc.settings.llm_timeout,
        ignore_result=True,
    )
    return reply_key


def next_chunk(reply_key: str) -> dict:
    """The worker's next chunk; an error chunk when none came within the timeout."""
    timeout = services().settings.llm_timeout
    chunk = services().store.replies.next(reply_key, timeout)
    if chunk is None:
        message = f"no language-model worker answered within {timeout:g}s"
        return {"error": {"code": "timeout", "message": message}}
    return chunk


def chunks(reply_key: str, first: dict) -> Iterator[dict]:
    """The chunks from first on, until the end or an error (both yielded)."""
    chunk = first
    while True:
        yield chunk
        if "delta" not in chunk:
            return
        chunk = next_chunk(reply_key)


def usage(end: dict) -> dict:
    """OpenAI's usage from the worker's token counts (the tokenizer's)."""
    counts = end.get("usage") or {}
    prompt, written = counts.get("prompt_tokens", 0), counts.get("completion_tokens", 0)
    return {"prompt_tokens": prompt, "completion_tokens": written, "total_tokens": prompt + written}


def complete(model: str, model_id: str, messages: list[dict], params: dict) -> dict:
    """Answer with one chat.completion (after the whole answer came)."""
    reply_key = start(model_id, messages, params)
    pieces: list[str] = []
    for chunk in chunks(reply_key, next_chunk(reply_key)):
        if "error" in chunk:
            failed(chunk["error"])
        pieces.append(chunk.get("delta", ""))
    end = chunk
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(pieces), "refusal": None},
                "finish_reason": end.get("finish_reason") or "stop",
                "logprobs": None,
            }
        ],
        "usage": usage(end),
        "system_fingerprint": None,
        "tuneloop": {"format": spec.FORMAT, "model_id": model_id},
    }


def _event(data: dict | str) -> str:
    """One server-sent event."""
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


def stream(
    model: str, model_id: str, messages: list[dict], params: dict, include_usage: bool
) -> Iterator[str]:
    """Start the completion and return its server-sent events (errors before the first
    piece are answered as HTTP errors; later ones as an error event)."""
    reply_key = start(model_id, messages, params)
    first = next_chunk(reply_key)
    if "error" in first:
        failed(first["error"])
    return _events(model, reply_key, first, include_usage)


def _events(model: str, reply_key: str, first: dict, include_usage: bool) -> Iterator[str]:
    """chat.completion.chunk events: the role, each piece, the finish reason, [DONE]."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk"}
    base |= {"created": now(), "model": model, "system_fingerprint": None}

    def event(delta: dict, finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _event({**base, "choices": [choice]})

    yield event({"role": "assistant", "content": ""})
    for chunk in chunks(reply_key, first):
        if "error" in chunk:
            yield _event({"error": {**chunk["error"], "type": "server_error", "param": None}})
            return
        if "delta" in chunk:
            yield event({"content": chunk["delta"]})
        else:
            yield event({}, chunk.get("finish_reason") or "stop")
            if include_usage:
                yield _event({**base, "choices": [], "usage": usage(chunk)})
    yield _event("[DONE]")
