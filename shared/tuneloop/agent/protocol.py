"""The one small interface every agent implements."""

from collections.abc import Sequence
from typing import Protocol

from tuneloop.agent.response import AgentResponse


class Agent(Protocol):
    """An agent answers inputs, describes itself, and saves to bytes its format can load."""

    format: str
    model_id: str

    def respond_many(self, texts: Sequence[str]) -> list[AgentResponse]:
        """Answer many inputs at once."""
        ...

    def describe(self) -> dict:
        """Return the format, the task types and anything else a model listing shows."""
        ...

    def save(self) -> bytes:
        """Return the agent as bytes that `load` of its class turns back into it."""
        ...

    @classmethod
    def load(cls, model_id: str, payload: bytes) -> "Agent":
        """Rebuild an agent saved with `save`."""
        ...
