"""A stand-in for tuneloop.llm.generation.Generator without torch (TUNELOOP_LLM_GENERATOR).

It answers with the sampling parameters it was given and the last user message, one word
per piece, honouring max_tokens (words) and stop; usage counts words.
"""

from collections.abc import Iterator


class EchoStream:
    """The pieces of one answer; usage and finish_reason are set once they are read."""

    def __init__(self, words: list[str], prompt_tokens: int, max_tokens: int, stop: list[str]):
        self.words, self.max_tokens, self.stop = words, max_tokens, stop
        self.usage = {"prompt_tokens": prompt_tokens, "completion_tokens": 0}
        self.finish_reason: str | None = None

    def __iter__(self) -> Iterator[str]:
        self.finish_reason = "stop"
        for n, word in enumerate(self.words):
            if n == self.max_tokens:
                self.finish_reason = "length"
                return
            if any(s in word for s in self.stop):
                return
            self.usage["completion_tokens"] += 1
            yield word if n == 0 else " " + word


class EchoGenerator:
    """Answers "<location> <adapter> t=<temperature> p=<top_p> seed=<seed> you said: <text>"."""

    def stream(self, base, adapter, messages, max_tokens, temperature, top_p, stop, seed):
        """Return the answer's stream."""
        last = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        if last == "please fail":
            raise RuntimeError("the generator failed on purpose")
        head = f"{base} {adapter} t={temperature:g} p={top_p:g} seed={seed} roles={len(messages)}"
        words = f"{head} you said: {last}".split()
        prompt = sum(len(m["content"].split()) for m in messages)
        return EchoStream(words, prompt, max_tokens, stop)


def factory(cache_size: int) -> EchoGenerator:
    """Build the generator (the cache size is not used)."""
    return EchoGenerator()
