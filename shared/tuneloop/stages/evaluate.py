"""Evaluate: answer the evaluation cases and compute the lab's metrics, honestly defined."""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from tuneloop.agent.lab import TEST_CASES
from tuneloop.text import token_f1

EXAMPLES_KEPT = 10


def request_cases(eval_set: Sequence[dict] | None) -> list[dict]:
    """Return the job's eval set, or the lab's five test cases."""
    return [dict(c) for c in (eval_set or TEST_CASES)]


def holdout_cases(examples: Iterable[list[dict]]) -> Iterator[list[dict]]:
    """Turn held-out examples into evaluation cases, batch by batch."""
    for batch in examples:
        yield [
            {
                "input": ex["input"],
                "expected_type": ex["task_type"],
                "reference_output": ex["output"],
            }
            for ex in batch
        ]


def case_quality(case: dict, answer: dict) -> float | None:
    """Return the answer's token F1 against the case's reference, or None without one."""
    ref = case.get("reference_output")
    return token_f1(answer["text"], ref) if ref else None


@dataclass
class _Sums:
    n: int = 0
    confidence: float = 0.0
    correct: int = 0
    quality: float = 0.0
    n_quality: int = 0

    def add(self, case: dict, answer: dict, quality: float | None) -> None:
        self.n += 1
        self.confidence += answer["confidence"]
        self.correct += answer["task_type"] == case["expected_type"]
        if quality is not None:
            self.quality += quality
            self.n_quality += 1

    def values(self) -> dict:
        accuracy = self.correct / self.n
        quality = self.quality / self.n_quality if self.n_quality else None
        parts = [accuracy] + ([quality] if quality is not None else [])
        return {
            "n_cases": self.n,
            "average_confidence": self.confidence / self.n,
            "task_accuracy": accuracy,
            "response_quality": quality,
            "overall_score": sum(parts) / len(parts),
        }


@dataclass
class MetricsAccumulator:
    """Streams (case, answer) pairs; keeps sums per task type and the first few answers."""

    total: _Sums = field(default_factory=_Sums)
    by_task: dict[str, _Sums] = field(default_factory=dict)
    first_answers: list[dict] = field(default_factory=list)

    def add(self, cases: Sequence[dict], answers: Sequence[dict]) -> list[float | None]:
        """Count one batch of cases with an agent's answers; return each case's quality."""
        qualities = [case_quality(c, a) for c, a in zip(cases, answers, strict=True)]
        for case, answer, quality in zip(cases, answers, qualities, strict=True):
            self.total.add(case, answer, quality)
            self.by_task.setdefault(case["expected_type"], _Sums()).add(case, answer, quality)
            if len(self.first_answers) < EXAMPLES_KEPT:
                self.first_answers.append({"case": case, "answer": answer})
        return qualities

    def result(self) -> dict:
        """Return the metrics over all cases and per expected task type."""
        out = self.total.values()
        out["by_task_type"] = {task: s.values() for task, s in sorted(self.by_task.items())}
        return out


def metrics(cases: Sequence[dict], answers: Sequence[dict]) -> dict:
    """Return the metrics of answers to cases (all in memory; for small sets and tests)."""
    acc = MetricsAccumulator()
    acc.add(cases, answers)
    return acc.result()
