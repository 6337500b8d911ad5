"""Evaluate: answer the evaluation cases and compute the lab's metrics, honestly defined."""

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import NamedTuple

from tuneloop.agent.lab import TEST_CASES
from tuneloop.text import token_f1

EXAMPLES_KEPT = 10
# chrF costs 50-150 us a call and answers repeat a lot, so scores are memoised. Keys are 16-byte
# digests of (answer, reference), not the texts (up to 4,000 characters each): a full cache
# holds about 200 bytes a pair, some 25 MiB at this size, however long the texts.
CHRF_CACHE_SIZE = 1 << 17


def request_cases(eval_set: Sequence[dict] | None, lab: bool = False) -> list[dict]:
    """Return the job's eval set, then the lab's five test cases when asked for (lab)."""
    return [dict(c) for c in (*(eval_set or ()), *(TEST_CASES if lab else ()))]


def asks_for_lab_cases(request: dict) -> bool:
    """Return whether a job's request asks for the lab's five test cases (lab_eval_set).

    A request stored before lab_eval_set existed has no such field: it was given the lab's
    cases (beside any holdout) when it had no eval set, which is what it asked for then.
    """
    if "lab_eval_set" in request:
        return bool(request["lab_eval_set"])
    return not request.get("eval_set_size")


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


class Scores(NamedTuple):
    """One answer against its case's reference: token F1 and chrF (both None without one)."""

    quality: float | None
    chrf: float | None


class ChrfScorer:
    """sacrebleu's sentence-level chrF (default settings) scaled to 0-1, memoised (LRU)."""

    def __init__(self, size: int = CHRF_CACHE_SIZE) -> None:
        self.size = size
        self.hits = self.misses = 0
        from sacrebleu.metrics import CHRF  # here: the gateway imports this module, not sacrebleu

        self._metric = CHRF()
        self._cache: OrderedDict[bytes, float] = OrderedDict()

    def __call__(self, text: str, reference: str) -> float:
        """Return the chrF of text against reference, from the cache when it was seen."""
        pair = f"{len(text)}:{text}{reference}".encode(errors="surrogatepass")
        key = blake2b(pair, digest_size=16).digest()
        score = self._cache.get(key)
        if score is not None:
            self.hits += 1
            self._cache.move_to_end(key)
            return score
        self.misses += 1
        score = self._metric.sentence_score(text, [reference]).score / 100
        self._cache[key] = score
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return score

    def __len__(self) -> int:
        """Return how many pairs the cache holds."""
        return len(self._cache)


@dataclass
class _Sums:
    n: int = 0
    confidence: float = 0.0
    correct: int = 0
    quality: float = 0.0
    chrf: float = 0.0
    n_scored: int = 0

    def add(self, case: dict, answer: dict, scores: Scores) -> None:
        self.n += 1
        self.confidence += answer["confidence"]
        self.correct += answer["task_type"] == case["expected_type"]
        if scores.quality is not None:
            self.quality += scores.quality
            self.chrf += scores.chrf
            self.n_scored += 1

    def values(self) -> dict:
        accuracy = self.correct / self.n
        quality = self.quality / self.n_scored if self.n_scored else None
        parts = [accuracy] + ([quality] if quality is not None else [])
        return {
            "n_cases": self.n,
            "average_confidence": self.confidence / self.n,
            "task_accuracy": accuracy,
            "response_quality": quality,
            "response_chrf": self.chrf / self.n_scored if self.n_scored else None,
            "overall_score": sum(parts) / len(parts),
        }


@dataclass
class MetricsAccumulator:
    """Streams (case, answer) pairs; keeps sums per task type and the first few answers."""

    total: _Sums = field(default_factory=_Sums)
    by_task: dict[str, _Sums] = field(default_factory=dict)
    first_answers: list[dict] = field(default_factory=list)
    chrf: ChrfScorer = field(default_factory=ChrfScorer)

    def score(self, case: dict, answer: dict) -> Scores:
        """Return the answer's token F1 and chrF against the case's reference (None: none)."""
        ref = case.get("reference_output")
        if not ref:
            return Scores(None, None)
        return Scores(token_f1(answer["text"], ref), self.chrf(answer["text"], ref))

    def add(self, cases: Sequence[dict], answers: Sequence[dict]) -> list[Scores]:
        """Count one batch of cases with an agent's answers; return each case's scores."""
        scores = [self.score(c, a) for c, a in zip(cases, answers, strict=True)]
        for case, answer, score in zip(cases, answers, scores, strict=True):
            self.total.add(case, answer, score)
            self.by_task.setdefault(case["expected_type"], _Sums()).add(case, answer, score)
            if len(self.first_answers) < EXAMPLES_KEPT:
                self.first_answers.append({"case": case, "answer": answer})
        return scores

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
