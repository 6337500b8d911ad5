"""Per-case outcomes of one agent, in case order, as compact numpy arrays (never per-case JSON)."""

import dataclasses
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tuneloop.agent import npz
from tuneloop.stages.evaluate import Scores

ARRAYS = ("expected", "predicted", "confidence", "quality", "chrf", "answer")


class UnpairedError(ValueError):
    """The two agents' outcomes are not over the same cases in the same order."""


@dataclass(frozen=True)
class Outcomes:
    """One agent on the evaluation cases: label codes, confidence, scores (NaN: no reference).

    Answers are codes into texts, a table of the distinct answer texts (answers repeat a lot).
    """

    labels: list[str]
    expected: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    quality: np.ndarray
    chrf: np.ndarray
    answer: np.ndarray
    texts: list[str]

    @property
    def correct(self) -> np.ndarray:
        """Return whether each case was routed to its expected task type."""
        return self.expected == self.predicted

    def recoded(self, labels: list[str]) -> "Outcomes":
        """Return the same outcomes with codes into labels (which must hold every label here)."""
        position = {label: i for i, label in enumerate(labels)}
        table = np.array([position[label] for label in self.labels], dtype=np.int32)
        return dataclasses.replace(
            self, labels=labels, expected=table[self.expected], predicted=table[self.predicted]
        )


class OutcomeLog:
    """Collect outcomes batch by batch into typed arrays: 4 + 4 + 8 + 8 + 8 + 4 bytes a case."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self._texts: dict[str, int] = {}
        self._expected, self._predicted, self._answer = array("i"), array("i"), array("i")
        self._confidence, self._quality, self._chrf = array("d"), array("d"), array("d")

    def _code(self, label: str) -> int:
        return self._codes.setdefault(label, len(self._codes))

    def add(self, cases: Sequence[dict], answers: Sequence[dict], scores: Sequence[Scores]) -> None:
        """Record one batch: each case's expected type, the answer's type, text and scores."""
        for case, answer, (quality, chrf) in zip(cases, answers, scores, strict=True):
            self._expected.append(self._code(case["expected_type"]))
            self._predicted.append(self._code(answer["task_type"]))
            self._answer.append(self._texts.setdefault(answer["text"], len(self._texts)))
            self._confidence.append(answer["confidence"])
            self._quality.append(np.nan if quality is None else quality)
            self._chrf.append(np.nan if chrf is None else chrf)

    def outcomes(self) -> Outcomes:
        """Return what was recorded."""
        return Outcomes(
            list(self._codes),
            np.array(self._expected, dtype=np.int32),
            np.array(self._predicted, dtype=np.int32),
            np.array(self._confidence, dtype=np.float64),
            np.array(self._quality, dtype=np.float64),
            np.array(self._chrf, dtype=np.float64),
            np.array(self._answer, dtype=np.int32),
            list(self._texts),
        )


def dump(outcomes: Outcomes) -> bytes:
    """Return outcomes as .npz bytes (no pickle; the label and text tables in the header)."""
    arrays = {name: getattr(outcomes, name) for name in ARRAYS}
    return npz.dump(arrays, {"labels": outcomes.labels, "texts": outcomes.texts})


def load(data: bytes | None) -> Outcomes | None:
    """Rebuild outcomes written by dump; None for none, or for those of an older worker."""
    if data is None:
        return None
    arrays, header = npz.load(data)
    if set(arrays) != set(ARRAYS) or "texts" not in header:  # no chrF, no answer texts
        return None
    return Outcomes(header["labels"], **arrays, texts=header["texts"])


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
