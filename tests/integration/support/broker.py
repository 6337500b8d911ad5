"""What the broker saw: every message pushed onto a Celery queue, read with Redis MONITOR.

Queue lengths and kombu's `unacked` hash only show the messages no worker has finished yet:
a message the session's worker answers in a few milliseconds is gone before a test looks.
MONITOR shows each LPUSH onto a queue list as Redis executes it, so a message is counted
whether or not a worker has taken it since.
"""

from __future__ import annotations

import codecs
import json
import re
import uuid
from dataclasses import dataclass

import redis

from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE

QUEUES = (PIPELINE_QUEUE.encode(), INTERACTIVE_QUEUE.encode())  # with kombu's priority suffixes
LINE = re.compile(r"^[\d.]+ \[(\d+) [^\]]*\] (.*)$", re.DOTALL)
ARG = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)


@dataclass(frozen=True)
class Message:
    """One message pushed onto a queue: the queue, its task and the task that sent it."""

    queue: str
    task: str
    parent_id: str | None  # None: sent from outside any task (the gateway, not a chain)


class SentMessages:
    """Record the messages pushed onto Celery's queues of one Redis database."""

    def __init__(self, redis_url: str) -> None:
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=30)
        self.db = int(self._redis.connection_pool.connection_kwargs.get("db", 0))
        self._monitor = self._redis.monitor()
        self._monitor.__enter__()
        self.messages: list[Message] = []

    def read(self) -> list[Message]:
        """Take in everything Redis has executed until now; return every message seen."""
        token = f"sent-messages-{uuid.uuid4().hex}"
        self._redis.echo(token)
        while True:
            line = self._monitor.connection.read_response()
            text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
            if token in text:
                return self.messages
            self._take(text)

    def _take(self, line: str) -> None:
        match = LINE.match(line)
        if match is None or int(match[1]) != self.db:
            return
        args = [codecs.escape_decode(a.encode())[0] for a in ARG.findall(match[2])]
        if len(args) < 3 or args[0].upper() not in (b"LPUSH", b"RPUSH"):
            return
        if not args[1].startswith(QUEUES):
            return
        for payload in args[2:]:
            headers = json.loads(payload)["headers"]
            self.messages.append(Message(args[1].decode(), headers["task"], headers["parent_id"]))

    def sent_from_outside(self) -> int:
        """How many messages were sent from outside any task (by a gateway) so far."""
        return sum(m.parent_id is None for m in self.read())

    def close(self) -> None:
        """Stop monitoring."""
        self._monitor.__exit__()
        self._redis.close()
