"""Reply slots: a worker pushes an answer (or its pieces), the waiting gateway request pops it."""

import json
import uuid

from redis import Redis

from tuneloop.store import keys

REPLY_TTL = 60


class ReplyStore:
    """Answers passed through short-lived Redis lists: one answer of POST
    /v1/models/{id}/responses, or the pieces of a language model's chat completion."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def new_key(self) -> str:
        """Return a fresh reply key."""
        return keys.reply(uuid.uuid4().hex)

    def send(self, key: str, answer: dict | None) -> None:
        """Push the answer; it expires if nobody waits for it any more."""
        self.push(key, {"answer": answer})

    def wait(self, key: str, timeout: float) -> tuple[bool, dict | None]:
        """Wait up to timeout seconds; return (whether an answer came, the answer)."""
        popped = self.next(key, timeout)
        if popped is None:
            return False, None
        return True, popped["answer"]

    def push(self, key: str, chunk: dict) -> None:
        """Append one chunk to the list; the list expires REPLY_TTL after its last chunk."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(key, json.dumps(chunk)).expire(key, REPLY_TTL)
        pipe.execute()

    def next(self, key: str, timeout: float) -> dict | None:
        """Pop the next chunk, waiting up to timeout seconds; None when none came."""
        popped = self.redis.blpop([key], timeout=timeout)
        return None if popped is None else json.loads(popped[1])
