"""A language model as the registry sees it: a base model's name and, once fine-tuned, the
artifact-store key of its LoRA adapter. Its saved bytes are that manifest, never the weights:
the weights live in the artifact store (tuneloop.artifact_store), Redis keeps the manifest.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass

from tuneloop.agent.response import AgentResponse
from tuneloop.llm.spec import FORMAT


class ServedElsewhereError(RuntimeError):
    """A language model answers through the llm worker's chat queue, not respond_many."""


@dataclass(frozen=True)
class LoraAgent:
    """A base model (adapter None) or a base model plus a LoRA adapter."""

    model_id: str
    base_model: str
    adapter: str | None = None  # artifact-store key of the adapter directory
    method: str | None = None
    format: str = FORMAT

    def respond_many(self, texts: Sequence[str]) -> list[AgentResponse]:
        """Refuse: generation needs torch, which only the llm worker's chat task loads."""
        raise ServedElsewhereError(
            f"model {self.model_id} is a language model: ask it through /v1/chat/completions"
        )

    def describe(self) -> dict:
        """Return what a model listing shows: the format, base model, adapter and method."""
        return {
            "format": self.format,
            "base_model": self.base_model,
            "adapter": self.adapter,
            "method": self.method,
        }

    def save(self) -> bytes:
        """Return the manifest (a few hundred bytes)."""
        manifest = {"base_model": self.base_model, "adapter": self.adapter, "method": self.method}
        return json.dumps(manifest, sort_keys=True).encode()

    @classmethod
    def load(cls, model_id: str, payload: bytes) -> "LoraAgent":
        """Rebuild from a manifest; empty bytes name a registered base model served as is."""
        if not payload:
            return cls(model_id, model_id)
        manifest = json.loads(payload)
        return cls(
            model_id, manifest["base_model"], manifest.get("adapter"), manifest.get("method")
        )
