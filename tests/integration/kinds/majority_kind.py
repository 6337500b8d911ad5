"""A second model kind, for the tests: answer every input as the most frequent task type.

One module holds the agent and its trainer, and registers them once when imported (a worker
and a gateway started with TUNELOOP_MODEL_KINDS=majority_kind import it at start-up). The
trainer reads the job's training rows, counts task types, keeps the best-rated answer of the
majority task, and reports one epoch whose losses are the cross-entropy of the task-type
frequencies on the training and validation rows.
"""

import json
import math
from collections import Counter
from collections.abc import Sequence

from tuneloop.agent import registry
from tuneloop.agent.response import AgentResponse
from tuneloop.agent.trainer import Trained, TrainingRun

FORMAT = "tests.majority/1"
BASE_MODEL = "tests-majority"


class MajorityAgent:
    """Answers every input as the majority task, with the task's share as its confidence."""

    format = FORMAT

    def __init__(self, model_id: str, counts: dict[str, int], answer: str) -> None:
        self.model_id, self.counts, self.answer = model_id, counts, answer
        self.task = max(sorted(counts), key=counts.__getitem__)

    def respond_many(self, texts: Sequence[str]) -> list[AgentResponse]:
        """Answer each input as the majority task."""
        share = self.counts[self.task] / sum(self.counts.values())
        reason = f"{self.task} is the most frequent task type"
        return [AgentResponse(self.answer, share, reason, self.task) for _ in texts]

    def describe(self) -> dict:
        """Return the format and the task types counted."""
        return {"format": FORMAT, "task_types": sorted(self.counts)}

    def save(self) -> bytes:
        """Return the counts and the answer as JSON."""
        return json.dumps({"counts": self.counts, "answer": self.answer}).encode()

    @classmethod
    def load(cls, model_id: str, payload: bytes) -> "MajorityAgent":
        """Rebuild an agent saved with save."""
        saved = json.loads(payload)
        return cls(model_id, saved["counts"], saved["answer"])


def cross_entropy(counts: Counter, frequencies: dict[str, float]) -> float | None:
    """Return the mean log loss of predicting frequencies for rows counted by task type."""
    n = sum(counts.values())
    if not n:
        return None
    return -sum(k * math.log(frequencies.get(t, 1e-15)) for t, k in counts.items()) / n


def train(run: TrainingRun) -> Trained:
    """Count the training rows' task types; keep the majority task's best-rated answer."""
    counts: Counter = Counter()
    best: dict[str, tuple[float, str]] = {}
    for batch in run.training_rows():
        for row in batch:
            counts[row["task_type"]] += 1
            rating = row.get("rating") or 0.0
            if rating > best.get(row["task_type"], (-1.0, ""))[0]:
                best[row["task_type"]] = (rating, row["output"])
    validation = Counter(r["task_type"] for b in run.validation_rows() for r in b)
    total = sum(counts.values())
    frequencies = {task: k / total for task, k in counts.items()}
    agent = MajorityAgent(run.model_id, dict(counts), "")
    agent.answer = best[agent.task][1]
    row = {
        "epoch": 1,
        "train_loss": cross_entropy(counts, frequencies),
        "valid_loss": cross_entropy(validation, frequencies),
    }
    run.record_epoch(1, row)
    report = {"epochs": [row], "best_epoch": 1, "stopped_early": False, "abstention": None}
    return Trained(agent, report, total, 1)


registry.register(
    FORMAT, f"{__name__}:MajorityAgent", trainer=f"{__name__}:train", base_models=(BASE_MODEL,)
)
