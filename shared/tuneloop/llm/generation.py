"""Chat completions from a base model or base + LoRA adapter, streamed token by token.

This in-process token loop is the serving seam: a production deployment would replace
`Generator.stream` with a call to an inference server that loads LoRA adapters per request
(vLLM with `--enable-lora`, one `LoRARequest(name, id, adapter_dir)` per fine-tuned model),
keeping the same arguments, text pieces, usage and finish_reason.
"""

import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tuneloop.llm import models, scoring

Messages = list[dict[str, str]]


def _pick(logits: Any, temperature: float, top_p: float, rng: Any) -> int:
    """Return the next token: argmax at temperature 0, else a nucleus (top_p) sample."""
    import torch

    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
        sorted_probs[before >= top_p] = 0.0
        probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
    return int(torch.multinomial(probs.cpu(), 1, generator=rng))


def _held_back(text: str, stops: list[str]) -> int:
    """Return how many trailing characters of text could start a stop string."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest


class Stream:
    """Iterate for text pieces; afterwards `usage` and `finish_reason` are set."""

    def __init__(self, pieces: Iterator[str]) -> None:
        self._pieces = pieces
        self.usage: dict[str, int] = {"prompt_tokens": 0, "completion_tokens": 0}
        self.finish_reason: str | None = None

    def __iter__(self) -> Iterator[str]:
        return self._pieces


class Generator:
    """Loaded (base, adapter) models in an LRU cache, answering chat messages."""

    def __init__(self, cache_size: int = 2) -> None:
        self.cache_size = max(1, cache_size)
        self._models: OrderedDict[tuple[str, str | None], tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def model(self, base_location: str, adapter_dir: str | None) -> tuple[Any, Any]:
        """Return (model, tokenizer) for base + adapter, loading it and evicting the oldest."""
        key = (str(base_location), str(adapter_dir) if adapter_dir else None)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            if adapter_dir:
                loaded = models.load_tuned(base_location, adapter_dir, merge=True)
            else:
                loaded = models.load_base(base_location)
            self._models[key] = loaded
            while len(self._models) > self.cache_size:
                self._models.popitem(last=False)
            return loaded

    def cached(self) -> list[tuple[str, str | None]]:
        """Return the cached (base, adapter) keys, least recently used first."""
        return list(self._models)

    def stream(
        self,
        base_location: str | Path,
        adapter_dir: str | Path | None,
        messages: Messages,
        max_tokens: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Stream:
        """Return a Stream of the answer's text pieces (stop text never emitted)."""
        model, tok = self.model(str(base_location), str(adapter_dir) if adapter_dir else None)
        state = Stream(iter(()))
        state._pieces = self._run(
            state, model, tok, messages, max_tokens, temperature, top_p, stop or [], seed
        )
        return state

    def _run(
        self,
        state: Stream,
        model: Any,
        tok: Any,
        messages: Messages,
        max_tokens: int,
        temperature: float,
        top_p: float,
        stops: list[str],
        seed: int | None,
    ) -> Iterator[str]:
        """Yield text pieces of one completion, filling state.usage and state.finish_reason."""
        import torch

        stops = [s for s in stops if s]
        device = next(model.parameters()).device
        prompt = scoring.prompt_ids(tok, messages)
        state.usage = {"prompt_tokens": len(prompt), "completion_tokens": 0}
        rng = torch.Generator().manual_seed(seed if seed is not None else torch.seed())
        tokens: list[int] = []
        sent = 0
        cache = None
        step_input = torch.tensor([prompt], device=device)
        state.finish_reason = "length"
        with torch.inference_mode():
            while len(tokens) < max_tokens:
                out = model(input_ids=step_input, cache=cache, use_cache=True)
                cache = out.cache
                token = _pick(out.logits[0, -1], temperature, top_p, rng)
                if token == tok.eos_token_id:
                    state.finish_reason = "stop"
                    break
                tokens.append(token)
                state.usage["completion_tokens"] = len(tokens)
                step_input = torch.tensor([[token]], device=device)
                text = tok.decode(tokens, skip_special_tokens=True)
                hit = min(
                    (i for i in (text.find(s, max(0, sent - len(s))) for s in stops) if i >= 0),
                    default=-1,
                )
                if hit >= 0:
                    if hit > sent:
                        yield text[sent:hit]
                    state.finish_reason = "stop"
                    return
                ready = len(text) - _held_back(text, stops)
                if text.endswith("\ufffd"):  # an incomplete UTF-8 character: wait for its bytes
                    ready = min(ready, len(text) - 1)
                if ready > sent:
                    yield text[sent:ready]
                    sent = ready
        text = tok.decode(tokens, skip_special_tokens=True)
        if len(text) > sent:
            yield text[sent:]
