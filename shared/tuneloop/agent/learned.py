"""The fine-tuned agent: a trained softmax router plus a memory of the best-rated answers."""

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tuneloop.agent import npz
from tuneloop.agent.features import N_FEATURES, FeatureBank, featurize
from tuneloop.agent.response import AgentResponse
from tuneloop.agent.softmax import Softmax

FALLBACK_ANSWER = "I understand your question. Let me help you with that."


@dataclass
class LearnedAgent:
    """Route an input to a task, then answer with the most similar well-rated example."""

    model_id: str
    router: Softmax
    memory: dict[str, list[dict]]
    format = "tuneloop.softmax/1"
    _bank: FeatureBank = field(init=False, repr=False)
    _offsets: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._bank, self._offsets, offset = FeatureBank(), {}, 0
        for task, rows in self.memory.items():
            self._offsets[task] = offset
            offset += len(rows)
            self._bank.add([r["input"] for r in rows])
        self._bank.freeze()

    def respond(self, text: str) -> AgentResponse:
        """Answer one input."""
        return self.respond_many([text])[0]

    def respond_many(self, texts: Sequence[str]) -> list[AgentResponse]:
        """Answer many inputs with one pass of the router."""
        if not texts:
            return []
        feats = featurize(list(texts))
        proba = self.router.proba(feats)
        best = proba.argmax(axis=1)
        answers = []
        for i, k in enumerate(best):
            task, conf = self.router.classes[k], float(proba[i, k])
            answers.append(self._answer(feats[i], task, conf))
        return answers

    def _answer(self, feat: object, task: str, conf: float) -> AgentResponse:
        """Answer with the memory row of task most similar to the input's features."""
        rows = self.memory.get(task, [])
        head = f"routed to '{task}' with p={conf:.2f}"
        if not rows:
            return AgentResponse(FALLBACK_ANSWER, round(conf, 4), head + "; no rated answer", task)
        start = self._offsets[task]
        vectors = self._bank.span(start, start + len(rows))
        sims = np.asarray((vectors @ feat.T).todense()).ravel()
        best = int(np.argmax(sims))  # rows are sorted by rating, so ties go to the best-rated
        row = rows[best]
        reason = (
            f"{head}; answer of a {row['rating']:.2f}-rated example (similarity {sims[best]:.2f})"
        )
        return AgentResponse(row["output"], round(conf, 4), reason, task)

    @property
    def nbytes(self) -> int:
        """Return the bytes the loaded agent holds in arrays (what a model cache accounts)."""
        return self.router.weights.nbytes + self.router.bias.nbytes + self._bank.nbytes

    def describe(self) -> dict:
        """Return the format and the task types the router chooses among."""
        return {"format": self.format, "task_types": list(self.router.classes)}

    def save(self) -> bytes:
        """Return the model as .npz bytes: float16 weights of the non-zero rows, the memory."""
        rows = np.flatnonzero(np.any(self.router.weights != 0, axis=1)).astype(np.int32)
        arrays = {
            "weight_rows": rows,
            "weights": self.router.weights[rows].astype(np.float16),
            "bias": self.router.bias.astype(np.float32),
        }
        header = {
            "format": self.format,
            "model_id": self.model_id,
            "classes": self.router.classes,
            "memory": self.memory,
        }
        return npz.dump(arrays, header)

    @classmethod
    def load(cls, model_id: str, payload: bytes) -> "LearnedAgent":
        """Rebuild a model saved with save; ValueError when the payload is another format."""
        try:
            arrays, header = npz.load(payload)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not a {cls.format} model: {exc}") from None
        if header.get("format") != cls.format:
            raise ValueError(f"unknown model format {header.get('format')!r}")
        classes = list(header["classes"])
        weights = np.zeros((N_FEATURES, len(classes)), dtype=np.float32)
        weights[arrays["weight_rows"]] = arrays["weights"].astype(np.float32)
        router = Softmax(classes, weights, arrays["bias"].astype(np.float32))
        return cls(model_id, router, header["memory"])
