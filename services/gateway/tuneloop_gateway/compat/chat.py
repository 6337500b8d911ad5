"""OpenAI's chat completions: the model (fine-tuned, the baseline, or an alias) answers."""

import re
import uuid

from flask.views import MethodView
from flask_smorest import abort

from tuneloop.timeutil import now
from tuneloop_gateway.api.models import ask_model
from tuneloop_gateway.auth import JOBS, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.compat.schemas import ChatCompletionInSchema, ChatCompletionSchema

blp = Blueprint(
    "openai_chat",
    __name__,
    url_prefix="/v1/chat",
    description="OpenAI-compatible chat completions: a model answers the last user message",
)
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

    @blp.doc(operationId="chat_completions_create")
    @requires(blp, JOBS)
    @blp.arguments(ChatCompletionInSchema)
    @blp.response(200, ChatCompletionSchema)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE", description="no worker answered in time")
    def post(self, body: dict) -> dict:
        """Answer the last user message with the model (earlier turns are not used)."""
        if body["stream"]:
            abort(
                400,
                message="stream: true is not supported; send stream false for one answer",
                errors={"stream": ["streaming is not supported"]},
            )
        question = next(m for m in reversed(body["messages"]) if m["role"] == "user")
        answer = ask_model(body["model"], question["content"])
        return completion(body["model"], body["messages"], answer)
