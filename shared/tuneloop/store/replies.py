"""One-shot reply slots: a worker pushes an answer, the waiting gateway request pops it."""

import json
import uuid

from redis import Redis

from tuneloop.store import keys

REPLY_TTL = 60


class ReplyStore:
    """Answers to POST /v1/models/{id}/responses, passed through short-lived Redis lists."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def new_key(self) -> str:
        """Return a fresh reply key."""
        return keys.reply(uuid.uuid4().hex)

    def send(self, key: str, answer: dict | None) -> None:
        """Push the answer; it expires if nobody waits for it any more."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(key, json.dumps({"answer": answer})).expire(key, REPLY_TTL)
        pipe.execute()

    def wait(self, key: str, timeout: float) -> tuple[bool, dict | None]:
        """Wait up to timeout seconds; return (whether an answer came, the answer)."""
        popped = self.redis.blpop([key], timeout=timeout)
        if popped is None:
            return False, None
        return True, json.loads(popped[1])["answer"]
