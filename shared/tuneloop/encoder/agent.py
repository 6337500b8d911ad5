"""The encoder agent: the softmax router over [embedding ⊕ n-grams], answers by embedding.

It routes as the learned agent does, on rows that carry the input's multilingual-e5-small
embedding beside its hashed n-grams, then answers with the nearest well-rated example of the
routed task by embedding similarity. With an out-of-scope task it abstains when the top
probability is under abstain_threshold or the nearest example of the routed task is less
similar than abstain_similarity.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from tuneloop.agent import npz
from tuneloop.agent.learned import LearnedAgent, read_saved, saved_router
from tuneloop.agent.response import AgentResponse
from tuneloop.encoder import embedding, neighbours
from tuneloop.encoder.features import N_INPUTS, EncodedBank, encoded_features
from tuneloop.encoder.spec import DIM, ENCODER, FORMAT, TAG

CHUNK = 4096  # rows per router pass over a bank


@dataclass
class EncoderAgent(LearnedAgent):
    """Route with embeddings and n-grams; answer with the nearest example by embedding."""

    abstain_similarity: float | None = None
    vectors: np.ndarray | None = None  # the memory rows' embeddings, float16, in memory order
    neighbour_vectors: np.ndarray | None = None  # training embeddings that vote, float16
    neighbour_labels: np.ndarray | None = None  # their task indexes
    mix: float = 0.0  # the vote's share of the probabilities (0: the router alone)
    mix_losses: dict | None = None  # validation log-loss of each candidate mix
    format = FORMAT
    _vectors: dict[str, np.ndarray] = field(init=False, repr=False)
    _neighbours: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        inputs = [r["input"] for rows in self.memory.values() for r in rows]
        if self.vectors is None:
            self.vectors = embedding.embed(inputs).vectors.astype(np.float16)
        if len(self.vectors) != len(inputs):
            raise ValueError(f"{len(self.vectors)} memory embeddings for {len(inputs)} rows")
        if self.neighbour_vectors is None or self.neighbour_labels is None:
            self.neighbour_vectors = np.zeros((0, DIM), dtype=np.float16)
            self.neighbour_labels = np.zeros(0, dtype=np.int32)
        self._neighbours = self.neighbour_vectors.astype(np.float32)
        self._vocabulary, self._vectors, at = {}, {}, 0
        for task, rows in self.memory.items():
            self._vectors[task] = self.vectors[at : at + len(rows)].astype(np.float32)
            at += len(rows)

    def _inputs(self, texts: Sequence[str]) -> tuple[sp.csr_matrix, np.ndarray]:
        """Return the router's rows and the embeddings of texts."""
        vectors = embedding.embed(texts).vectors
        return encoded_features(texts, vectors), vectors

    def _proba(self, feats: sp.csr_matrix, vectors: np.ndarray) -> np.ndarray:
        """Return the router's probabilities mixed with the neighbours' vote."""
        proba = self.router.proba(feats)
        if not self.mix:
            return proba
        votes = neighbours.vote(vectors, self._neighbours, self.neighbour_labels, proba.shape[1])
        return neighbours.mixed(proba, votes, self.mix)

    def _nearest(self, vectors: np.ndarray, best: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return, per input, the most similar memory row of its task by embedding (-1: none)."""
        nearest, similarity = np.full(len(best), -1), np.zeros(len(best), dtype=np.float32)
        for k in np.unique(best).tolist():
            task = self.router.classes[k]
            rows = self._vectors.get(task)
            if rows is None or not len(rows):
                continue
            which = np.flatnonzero(best == k)
            sims = rows @ vectors[which].T  # (rows, inputs); ties go to the best-rated row
            nearest[which], similarity[which] = sims.argmax(axis=0), sims.max(axis=0)
        return nearest, similarity

    def _abstains(self, best: np.ndarray, top: np.ndarray, similarity: np.ndarray) -> np.ndarray:
        """Return which inputs are out of scope: too unsure, or too far from every example."""
        unsure = super()._abstains(best, top, similarity)
        if self.abstain_task is None or not self.abstain_similarity:
            return unsure
        classes = np.asarray(self.router.classes, dtype=object)
        far = similarity.astype(float) < self.abstain_similarity
        return unsure | ((classes[best] != self.abstain_task) & far)

    def _answer(self, text: str, task: str, p: float, row: int, sim: float) -> AgentResponse:
        """Answer as the learned agent does, naming the nearest example and its similarity."""
        answer = super()._answer(text, task, p, row, sim)
        if row >= 0:
            example = self.memory[task][row]["input"]
            said = f"example (similarity {sim:.2f})"  # as the learned agent words it
            named = f"example, the nearest by meaning: {example!r} (similarity {sim:.2f})"
            return replace(answer, reasoning=answer.reasoning.replace(said, named, 1))
        return answer

    def _abstain(self, task: str, p: float, similarity: float) -> AgentResponse:
        """Answer as the out-of-scope task, saying which of the two tests the input failed."""
        answer = super()._abstain(task, p, similarity)
        if p >= self._threshold:  # abstained on distance alone
            reason = (
                f"abstained: top task '{task}' had p={p:.2f}, but its nearest example had "
                f"similarity {similarity:.2f}, under {self.abstain_similarity:.4f}; answered "
                f"as out-of-scope '{self.abstain_task}'"
            )
            return replace(answer, reasoning=reason)
        return answer

    @property
    def nbytes(self) -> int:
        """Return the bytes the loaded agent holds in arrays (what a model cache accounts)."""
        weights = self.router.weights.nbytes + self.router.bias.nbytes
        memory = sum(v.nbytes for v in self._vectors.values())
        return weights + memory + self._neighbours.nbytes + self.neighbour_labels.nbytes

    def describe(self) -> dict:
        """Return the learned agent's description, with the encoder and the distance test."""
        out = super().describe()
        out["encoder"] = ENCODER
        if out["out_of_scope"] is not None:
            out["out_of_scope"]["similarity"] = self.abstain_similarity
        out["neighbours"] = {
            "rows": len(self.neighbour_labels),
            "k": neighbours.K,
            "mix": self.mix,
            "validation_log_loss": self.mix_losses,
        }
        return out

    def save(self) -> bytes:
        """Return the model as .npz bytes: the router's used rows, the memory, its embeddings."""
        arrays, header = self._saved()
        arrays["vectors"] = np.asarray(self.vectors, dtype=np.float16)
        arrays["neighbour_vectors"] = np.asarray(self.neighbour_vectors, dtype=np.float16)
        arrays["neighbour_labels"] = np.asarray(self.neighbour_labels, dtype=np.int32)
        header.update(
            abstain_similarity=self.abstain_similarity,
            mix=self.mix,
            mix_losses=self.mix_losses,
            encoder=TAG,
        )
        return npz.dump(arrays, header)

    @classmethod
    def load(cls, model_id: str, payload: bytes) -> "EncoderAgent":
        """Rebuild a model saved with save; ValueError for another format or encoder."""
        arrays, header = read_saved(cls.format, payload)
        if header.get("encoder") != TAG:
            raise ValueError(f"model encoded with {header.get('encoder')!r}, this worker has {TAG}")
        router = saved_router(arrays, header, N_INPUTS)
        return cls(
            model_id,
            router,
            header["memory"],
            header["abstain_task"],
            header["abstain_threshold"],
            header["abstain_similarity"],
            arrays["vectors"],
            arrays["neighbour_vectors"],
            arrays["neighbour_labels"],
            header["mix"],
            header["mix_losses"],
        )


def bank_proba(agent: EncoderAgent, bank: EncodedBank, mixed: bool = True) -> np.ndarray:
    """Return the agent's task probabilities of every row of bank (the router's alone when
    not mixed), chunk by chunk."""
    parts = []
    for start in range(0, len(bank), CHUNK):
        feats = bank.span(start, start + CHUNK)
        vectors = bank.vectors[start : start + CHUNK].astype(np.float32)
        parts.append(agent._proba(feats, vectors) if mixed else agent.router.proba(feats))
    return np.concatenate(parts) if parts else np.zeros((0, len(agent.router.classes)))
