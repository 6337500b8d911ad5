"""The fine-tuned agent: a trained task router plus a memory of the best-rated answers."""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from tuneloop.agent.features import featurize
from tuneloop.agent.response import AgentResponse
from tuneloop.agent.router import Router
from tuneloop.stages.text import normalize

MODEL_FORMAT = "tuneloop.learned/1"
MEMORY_PER_TASK = 64
FALLBACK_ANSWER = "I understand your question. Let me help you with that."


def build_memory(examples: Sequence[dict], per_task: int = MEMORY_PER_TASK) -> dict:
    """Keep the best-rated answer to each distinct input, up to per_task per task type."""
    by_task: dict[str, list[dict]] = {}
    for ex in examples:
        by_task.setdefault(ex["task_type"], []).append(ex)
    memory = {}
    for task, rows in sorted(by_task.items()):
        rows = sorted(rows, key=lambda r: (-r["rating"], r["input"], r["output"]))
        seen, kept = set(), []
        for r in rows:
            if normalize(r["input"]) not in seen:
                seen.add(normalize(r["input"]))
                kept.append({"input": r["input"], "output": r["output"], "rating": r["rating"]})
        memory[task] = kept[:per_task]
    return memory


@dataclass
class LearnedAgent:
    """Route an input to a task, then answer with the most similar well-rated example."""

    model_id: str
    router: Router
    memory: dict[str, list[dict]]
    _vectors: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for task, rows in self.memory.items():
            self._vectors[task] = featurize([r["input"] for r in rows]) if rows else None

    def respond(self, text: str) -> AgentResponse:
        """Answer one input."""
        return self.respond_many([text])[0]

    def respond_many(self, texts: Sequence[str]) -> list[AgentResponse]:
        """Answer many inputs with one pass of the router."""
        if not texts:
            return []
        feats = featurize(list(texts))
        proba = self.router.proba(feats)
        answers = []
        for i, p in enumerate(proba):
            k = int(np.argmax(p))
            task, conf = self.router.classes[k], float(p[k])
            answers.append(self._answer(feats[i], task, conf))
        return answers

    def _answer(self, feat: sp.csr_matrix, task: str, conf: float) -> AgentResponse:
        """Answer with the memory row of task most similar to the input's features."""
        vectors, rows = self._vectors.get(task), self.memory.get(task, [])
        head = f"routed to '{task}' with p={conf:.2f}"
        if vectors is None:
            return AgentResponse(FALLBACK_ANSWER, round(conf, 4), head + "; no rated answer", task)
        sims = np.asarray((vectors @ feat.T).todense()).ravel()
        best = int(np.argmax(sims))  # rows are sorted by rating, so ties go to the best-rated
        row = rows[best]
        reason = (
            f"{head}; answer of a {row['rating']:.2f}-rated example (similarity {sims[best]:.2f})"
        )
        return AgentResponse(row["output"], round(conf, 4), reason, task)

    def to_dict(self) -> dict:
        """Return the whole model as JSON-able data."""
        return {
            "format": MODEL_FORMAT,
            "model_id": self.model_id,
            "router": self.router.to_dict(),
            "memory": self.memory,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "LearnedAgent":
        """Load a model saved with to_dict."""
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"unknown model format {data.get('format')!r}")
        return cls(data["model_id"], Router.from_dict(data["router"]), data["memory"])
