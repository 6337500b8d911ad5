"""The fine-tuned agent: a trained softmax router plus a memory of the best-rated answers."""

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from tuneloop.agent import npz
from tuneloop.agent.features import N_FEATURES, FeatureBank, featurize
from tuneloop.agent.fit import SUBSTITUTED, UNFIT, answer_vocabulary, fit_answer
from tuneloop.agent.response import AgentResponse
from tuneloop.agent.softmax import Softmax

FALLBACK_ANSWER = "I understand your question. Let me help you with that."
CLARIFYING_ANSWER = "I can help with {task}. Could you tell me more about what you need?"
SIMILARITY_CHUNK = 4096  # inputs per similarity product: at most 64 x 4096 floats at once


@dataclass
class LearnedAgent:
    """Route an input to a task, then answer with the most similar well-rated example.

    With an abstain_task, an input whose top task probability is under abstain_threshold is
    answered as abstain_task (out of scope) with the fallback answer.
    """

    model_id: str
    router: Softmax
    memory: dict[str, list[dict]]
    abstain_task: str | None = None
    abstain_threshold: float | None = None
    format = "tuneloop.softmax/1"
    _bank: FeatureBank = field(init=False, repr=False)
    _offsets: dict[str, int] = field(init=False, repr=False)
    _vocabulary: dict[str, frozenset[str]] = field(init=False, repr=False)  # filled on first use

    def __post_init__(self) -> None:
        self._bank, self._offsets, self._vocabulary, offset = FeatureBank(), {}, {}, 0
        for task, rows in self.memory.items():
            self._offsets[task] = offset
            offset += len(rows)
        # Every task's inputs in one pass, in the same order: the rows are the same.
        self._bank.add([r["input"] for rows in self.memory.values() for r in rows])
        self._bank.freeze()

    def respond(self, text: str) -> AgentResponse:
        """Answer one input."""
        return self.respond_many([text])[0]

    def respond_many(self, texts: Sequence[str]) -> list[AgentResponse]:
        """Answer many inputs with one pass of the router."""
        if not texts:
            return []
        feats, probe = self._inputs(texts)
        proba = self._proba(feats, probe)
        best = proba.argmax(axis=1)
        top = proba[np.arange(len(best)), best]
        nearest, similarity = self._nearest(probe, best)
        abstains = self._abstains(best, top, similarity)
        answers = []
        for i, (k, p) in enumerate(zip(best.tolist(), top.tolist(), strict=True)):
            task = self.router.classes[k]
            if abstains[i]:
                answers.append(self._abstain(task, p, float(similarity[i])))
            else:
                answers.append(self._answer(texts[i], task, p, nearest[i], similarity[i]))
        return answers

    def route_many(self, texts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """Return each input's top task probability and task, before any abstention."""
        if not texts:
            return np.zeros(0), []
        proba = self._proba(*self._inputs(texts))
        best = proba.argmax(axis=1)
        top = proba[np.arange(len(best)), best].astype(float)  # as respond_many compares it
        return top, [self.router.classes[k] for k in best.tolist()]

    def _inputs(self, texts: Sequence[str]) -> tuple[sp.csr_matrix, object]:
        """Return the router's rows of texts, and what _nearest compares with the memory."""
        feats = featurize(list(texts))
        return feats, feats

    def _proba(self, feats: sp.csr_matrix, probe: object) -> np.ndarray:
        """Return each input's task probabilities: the router's."""
        return self.router.proba(feats)

    def _abstains(self, best: np.ndarray, top: np.ndarray, similarity: np.ndarray) -> np.ndarray:
        """Return which inputs are answered as out of scope: top probability under threshold."""
        classes = np.asarray(self.router.classes, dtype=object)
        # in float64, as the threshold was chosen: numpy would round the threshold to float32
        return (classes[best] != self.abstain_task) & (top.astype(float) < self._threshold)

    @property
    def _threshold(self) -> float:
        """Return the top probability under which the agent abstains (0: never)."""
        if self.abstain_task is None or self.abstain_threshold is None:
            return 0.0
        return self.abstain_threshold

    def _nearest(self, feats: sp.csr_matrix, best: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return, per input, its most similar row in the memory of task best (-1: none)."""
        nearest, similarity = np.full(len(best), -1), np.zeros(len(best), dtype=np.float32)
        for k in np.unique(best[best >= 0]).tolist():
            task = self.router.classes[k]
            rows, start = self.memory.get(task, []), self._offsets.get(task, 0)
            if not rows:
                continue
            vectors = self._bank.span(start, start + len(rows))
            which = np.flatnonzero(best == k)
            for at in range(0, len(which), SIMILARITY_CHUNK):
                part = which[at : at + SIMILARITY_CHUNK]
                sims = (vectors @ feats[part].T).toarray()  # (rows, inputs)
                # rows are sorted by rating, so ties go to the best-rated (argmax takes the first)
                nearest[part] = sims.argmax(axis=0)
                similarity[part] = sims.max(axis=0)
        return nearest, similarity

    def _answer(self, text: str, task: str, p: float, row: int, sim: float) -> AgentResponse:
        """Answer with memory row `row` of task, fitted to the input's own words."""
        head = f"routed to '{task}' with p={p:.2f}"
        if row < 0:
            return AgentResponse(FALLBACK_ANSWER, round(p, 4), head + "; no rated answer", task)
        chosen = self.memory[task][row]
        reason = f"{head}; answer of a {chosen['rating']:.2f}-rated example (similarity {sim:.2f})"
        if task not in self._vocabulary:
            self._vocabulary[task] = answer_vocabulary([r["output"] for r in self.memory[task]])
        fit = fit_answer(chosen["input"], chosen["output"], text, self._vocabulary[task])
        if fit.kind == SUBSTITUTED:
            swaps = ", ".join(f"{old!r} -> {new!r}" for old, new in fit.substitutions)
            reason += f", fitted to the input ({swaps})"
        elif fit.kind == UNFIT:
            reason += (
                ", whose words about its own input could not be fitted to this one; "
                "asking for more instead"
            )
            return AgentResponse(clarifying_answer(task), round(p, 4), reason, task)
        return AgentResponse(fit.text, round(p, 4), reason, task)

    def _abstain(self, task: str, p: float, similarity: float) -> AgentResponse:
        """Answer as the out-of-scope task: the router's top choice is too unsure."""
        reason = (
            f"abstained: top task '{task}' had p={p:.2f}, under the threshold "
            f"{self._threshold:.4f}; answered as out-of-scope '{self.abstain_task}'"
        )
        # The confidence is 1 - p: the router's probability that its top choice is wrong,
        # i.e. how sure it is that the input belongs to none of the tasks it knows well.
        return AgentResponse(FALLBACK_ANSWER, round(1.0 - p, 4), reason, self.abstain_task)

    @property
    def nbytes(self) -> int:
        """Return the bytes the loaded agent holds in arrays (what a model cache accounts)."""
        return self.router.weights.nbytes + self.router.bias.nbytes + self._bank.nbytes

    def describe(self) -> dict:
        """Return the format, the task types the router chooses among and its abstention."""
        out_of_scope = None
        if self.abstain_task is not None:
            out_of_scope = {"task": self.abstain_task, "threshold": self._threshold}
        return {
            "format": self.format,
            "task_types": list(self.router.classes),
            "out_of_scope": out_of_scope,
        }

    def save(self) -> bytes:
        """Return the model as .npz bytes: float16 weights of the non-zero rows, the memory."""
        return npz.dump(*self._saved())

    def _saved(self) -> tuple[dict[str, np.ndarray], dict]:
        """Return the arrays and header save writes (a kind adds its own to both)."""
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
            "abstain_task": self.abstain_task,
            "abstain_threshold": self.abstain_threshold,
        }
        return arrays, header

    @classmethod
    def load(cls, model_id: str, payload: bytes) -> "LearnedAgent":
        """Rebuild a model saved with save; ValueError when the payload is another format."""
        arrays, header = read_saved(cls.format, payload)
        router = saved_router(arrays, header, N_FEATURES)
        abstain = header.get("abstain_task"), header.get("abstain_threshold")
        return cls(model_id, router, header["memory"], *abstain)  # absent in older models


def read_saved(fmt: str, payload: bytes) -> tuple[dict[str, np.ndarray], dict]:
    """Return a saved model's arrays and header; ValueError unless it is of format fmt."""
    try:
        arrays, header = npz.load(payload)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not a {fmt} model: {exc}") from None
    if header.get("format") != fmt:
        raise ValueError(f"unknown model format {header.get('format')!r}")
    return arrays, header


def saved_router(arrays: dict[str, np.ndarray], header: dict, n_features: int) -> Softmax:
    """Return the router a model saved (its non-zero float16 rows) in float32."""
    classes = list(header["classes"])
    weights = np.zeros((n_features, len(classes)), dtype=np.float32)
    weights[arrays["weight_rows"]] = arrays["weights"].astype(np.float32)
    return Softmax(classes, weights, arrays["bias"].astype(np.float32))


def clarifying_answer(task: str) -> str:
    """Return the answer asking for more, for an input the chosen example does not fit."""
    return CLARIFYING_ANSWER.format(task=task.replace("_", " "))


def as_saved(router: Softmax) -> Softmax:
    """Return router as save and load give it back: its weights rounded to float16."""
    weights = router.weights.astype(np.float16).astype(np.float32)
    return Softmax(list(router.classes), weights, router.bias.astype(np.float32))
