"""Per-case outcomes of one agent, in case order, as compact numpy arrays (never per-case JSON)."""

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tuneloop.agent import npz


class UnpairedError(ValueError):
    """The two agents' outcomes are not over the same cases in the same order."""


@dataclass(frozen=True)
class Outcomes:
    """One agent on the evaluation cases: label codes, confidence, quality (NaN: no reference)."""

    labels: list[str]
    expected: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    quality: np.ndarray

    @property
    def correct(self) -> np.ndarray:
        """Return whether each case was routed to its expected task type."""
        return self.expected == self.predicted

    def recoded(self, labels: list[str]) -> "Outcomes":
        """Return the same outcomes with codes into labels (which must hold every label here)."""
        position = {label: i for i, label in enumerate(labels)}
        table = np.array([position[label] for label in self.labels], dtype=np.int32)
        return Outcomes(
            labels,
            table[self.expected],
            table[self.predicted],
            self.confidence,
            self.quality,
        )


class OutcomeLog:
    """Collect outcomes batch by batch into typed arrays: 4 + 4 + 8 + 8 bytes a case."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self._expected, self._predicted = array("i"), array("i")
        self._confidence, self._quality = array("d"), array("d")

    def _code(self, label: str) -> int:
        return self._codes.setdefault(label, len(self._codes))

    def add(
        self, cases: Sequence[dict], answers: Sequence[dict], qualities: Sequence[float | None]
    ) -> None:
        """Record one batch: each case's expected type, the answer's type, confidence, quality."""
        for case, answer, quality in zip(cases, answers, qualities, strict=True):
            self._expected.append(self._code(case["expected_type"]))
            self._predicted.append(self._code(answer["task_type"]))
            self._confidence.append(answer["confidence"])
            self._quality.append(np.nan if quality is None else quality)

    def outcomes(self) -> Outcomes:
        """Return what was recorded."""
        return Outcomes(
            list(self._codes),
            np.array(self._expected, dtype=np.int32),
            np.array(self._predicted, dtype=np.int32),
            np.array(self._confidence, dtype=np.float64),
            np.array(self._quality, dtype=np.float64),
        )


def dump(outcomes: Outcomes) -> bytes:
    """Return outcomes as .npz bytes (no pickle)."""
    arrays = {
        name: getattr(outcomes, name) for name in ("expected", "predicted", "confidence", "quality")
    }
    return npz.dump(arrays, {"labels": outcomes.labels})


def load(data: bytes) -> Outcomes:
    """Rebuild outcomes written by dump."""
    arrays, header = npz.load(data)
    return Outcomes(header["labels"], **arrays)


def paired(baseline: Outcomes, fine_tuned: Outcomes) -> tuple[Outcomes, Outcomes]:
    """Return both with codes into one sorted label list; UnpairedError unless the cases match."""
    labels = sorted(set(baseline.labels) | set(fine_tuned.labels))
    base, tuned = baseline.recoded(labels), fine_tuned.recoded(labels)
    if not np.array_equal(base.expected, tuned.expected):
        raise UnpairedError(
            f"the agents were evaluated on different cases ({len(base.expected)} baseline, "
            f"{len(tuned.expected)} fine-tuned, or the expected task types differ)"
        )
    return base, tuned
