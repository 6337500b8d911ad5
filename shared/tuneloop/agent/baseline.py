"""The lab's keyword agent, made deterministic."""

import re
from collections.abc import Sequence

from tuneloop.agent.response import AgentResponse
from tuneloop.contracts import BASELINE_MODEL_ID

KEYWORDS: dict[str, tuple[str, ...]] = {
    "weather": ("weather", "temperature", "rain", "sunny", "forecast", "cloudy"),
    "travel": ("travel", "flight", "hotel", "trip", "vacation", "book"),
}
ANSWERS: dict[str, str] = {
    "weather": "I can help you with weather information. Please specify the location.",
    "travel": "I can help you plan your travel. Where would you like to go?",
    "general": "I understand your question. Let me help you with that.",
}
_WORD = re.compile(r"[a-z']+")


class KeywordAgent:
    """Route by keyword prefix; confidence grows with the number of keywords matched."""

    format = "tuneloop.keyword/1"

    def __init__(self, model_id: str = BASELINE_MODEL_ID) -> None:
        self.model_id = model_id

    def respond(self, text: str) -> AgentResponse:
        """Answer by the task with the most keyword matches (ties: weather before travel)."""
        words = _WORD.findall(text.lower())
        best, hits = "general", 0
        for task, keywords in KEYWORDS.items():
            matched = sum(1 for w in words if any(w.startswith(k) for k in keywords))
            if matched > hits:
                best, hits = task, matched
        confidence = min(0.95, 0.6 + 0.15 * hits) if hits else 0.5
        reasoning = f"matched {hits} '{best}' keyword(s)" if hits else "no task keyword matched"
        return AgentResponse(ANSWERS[best], round(confidence, 4), reasoning, best)

    def respond_many(self, texts: Sequence[str]) -> list[AgentResponse]:
        """Answer many inputs."""
        return [self.respond(t) for t in texts]

    def describe(self) -> dict:
        """Return the format and the task types this agent can answer."""
        return {"format": self.format, "task_types": sorted(ANSWERS)}

    def save(self) -> bytes:
        """Return nothing: the keyword rules are code."""
        return b""

    @classmethod
    def load(cls, model_id: str, payload: bytes) -> "KeywordAgent":
        """Return the agent (its rules are code, so payload is empty)."""
        return cls(model_id)
