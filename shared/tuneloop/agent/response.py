"""What an agent returns for one input."""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AgentResponse:
    """An answer with its confidence, the reason for it and the task it was routed to."""

    text: str
    confidence: float
    reasoning: str
    task_type: str

    def to_dict(self) -> dict:
        """Return the response as JSON-able data."""
        return asdict(self)
