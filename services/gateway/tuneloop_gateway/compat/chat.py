"""OpenAI's chat completions: the model (fine-tuned, the baseline, or an alias) answers."""

import re
import uuid

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import abort

from tuneloop.timeutil import now
from tuneloop_gateway import llm_chat
from tuneloop_gateway.api.models import ask_model, get_model_or_404
from tuneloop_gateway.auth import JOBS, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.compat.schemas import ChatCompletionInSchema, ChatCompletionSchema

blp = Blueprint(
    "openai_chat",
    __name__,
    url_prefix="/v1/chat",
    description="OpenAI-compatible chat completions: a language model (streamed on request) "
    "or the stand-in agent answers",
)
ANSWER = "a chat.completion; with stream true, chat.completion.chunk events"
JSON, SSE = "application/json", "text/event-stream"
JSON_DOC = {"schema": {"$ref": "#/components/schemas/ChatCompletion"}}
SSE_DOC = {
    "schema": {
        "type": "string",
        "description": "stream true (language models): data: {chat.completion.chunk} events, "
        "then data: [DONE]",
    }
}
# The usage rule: a token is a run of word characters or one other visible character.
TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str | None) -> int:
    """Tokens of a text by the stated rule."""
    return len(TOKEN.findall(text or ""))


def completion(model: str, messages: list[dict], answer: dict) -> dict:
    """The chat.completion object for one answer."""
    prompt = sum(count_tokens(m["content"]) for m in messages)
    written = count_tokens(answer["text"])
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer["text"], "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": written,
            "total_tokens": prompt + written,
        },
        "system_fingerprint": None,
        "tuneloop": {k: answer.get(k) for k in ("task_type", "confidence", "reasoning")},
    }


@blp.route("/completions")
class ChatCompletions(MethodView):
    """Chat completions."""

    @blp.doc(
        operationId="chat_completions_create",
        responses={"200": {"description": ANSWER, "content": {JSON: JSON_DOC, SSE: SSE_DOC}}},
    )
    @requires(blp, JOBS)
    @blp.arguments(ChatCompletionInSchema)
    @blp.response(200, ChatCompletionSchema, description=ANSWER)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE", description="no worker answered in time")
    def post(self, body: dict) -> dict | Response:
        """Answer the chat: a language model continues the whole conversation (streamed on
        request); the stand-in agent answers the last user message."""
        meta = get_model_or_404(body["model"])
        if llm_chat.is_language_model(meta):
            return language_model(body, meta["id"])
        if body["stream"]:
            abort(
                400,
                message="stream: true is not supported by this model (language models only); "
                "send stream false",
                errors={"stream": ["streaming is not supported by this model"]},
            )
        question = next(m for m in reversed(body["messages"]) if m["role"] == "user")
        answer = ask_model(body["model"], question["content"])
        return completion(answer["model"], body["messages"], answer)  # the model that answered


def language_model(body: dict, model_id: str) -> dict | Response:
    """A language model's answer: one chat.completion, or its chunks as server-sent events."""
    params = llm_chat.params_of(body)
    if not body["stream"]:
        return llm_chat.complete(body["model"], model_id, body["messages"], params)
    usage = bool((body.get("stream_options") or {}).get("include_usage"))
    events = llm_chat.stream(body["model"], model_id, body["messages"], params, usage)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(stream_with_context(events), mimetype="text/event-stream", headers=headers)
