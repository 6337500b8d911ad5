"""Choose the top-probability threshold under which the agent answers "out of scope".

After abstention a row's prediction is the out-of-scope class when its top probability is
under the threshold t, else the router's argmax. In-scope accuracy is the share right among
rows whose true label is in scope; out-of-scope recall the share predicted out of scope among
truly out-of-scope rows; the in-scope loss is no abstention's (t = 0) in-scope accuracy minus
t's. A figure with no rows to measure is undefined and reported as None.

The chosen t is the one with the highest out-of-scope recall among those whose in-scope loss
is at most max_in_scope_loss (t = 0 always is: it loses nothing). Raising t only abstains
more, so recall never falls and in-scope accuracy never rises as t grows; ties go to the
lowest candidate, the one abstaining least. Without out-of-scope rows every recall ties, so
t = 0; without in-scope rows nothing can be lost.

Candidates: 0, every distinct top probability (abstaining on the rows strictly under it),
and 1 (abstaining on every row not certain). Each gives the outcome of every t above the
next lower candidate up to itself, so together they give every outcome a t in [0, 1] can.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from tuneloop.report.tradeoff import DEFAULT_MAX_IN_SCOPE_LOSS


@dataclass(frozen=True)
class Abstention:
    """A threshold and what it gives on the rows it was measured on."""

    threshold: float
    in_scope_accuracy: float | None  # None: no in-scope row
    out_of_scope_recall: float | None  # None: no out-of-scope row
    in_scope_loss: float | None  # no abstention's in-scope accuracy minus this; None: no row
    n_in_scope: int
    n_out_of_scope: int

    def figures(self) -> dict:
        """Return the measured figures, without the threshold."""
        figures = asdict(self)
        del figures["threshold"]
        return figures

    def point(self) -> dict:
        """Return the threshold with its accuracy, recall and loss: one point of a curve."""
        figures = asdict(self)
        del figures["n_in_scope"], figures["n_out_of_scope"]
        return figures


@dataclass(frozen=True)
class _Counts:
    """Per candidate threshold: in-scope rows right and out-of-scope rows recalled."""

    candidates: np.ndarray
    correct: np.ndarray
    recalled: np.ndarray
    n_in: int
    n_oos: int
    no_abstention: int  # in-scope rows right at t = 0

    def at(self, i: int) -> Abstention:
        """Return the figures of candidate i."""
        n_in, n_oos, correct = self.n_in, self.n_oos, int(self.correct[i])
        return Abstention(
            float(self.candidates[i]),
            correct / n_in if n_in else None,
            int(self.recalled[i]) / n_oos if n_oos else None,
            (self.no_abstention - correct) / n_in if n_in else None,
            n_in,
            n_oos,
        )


def choose_threshold(
    top: np.ndarray,
    predicted: np.ndarray,
    labels: np.ndarray,
    oos: int,
    max_in_scope_loss: float = DEFAULT_MAX_IN_SCOPE_LOSS,
) -> Abstention:
    """Return the lowest threshold of highest out-of-scope recall within max_in_scope_loss."""
    top = np.asarray(top, dtype=np.float64)
    counts = _count(top, predicted, labels, oos, np.concatenate(([0.0], top, [1.0])))
    if counts.n_in:
        # one division, as the reported loss is computed, so a loss equal to the limit is kept
        lost = (counts.no_abstention - counts.correct) / counts.n_in
        allowed = lost <= max_in_scope_loss
    else:
        allowed = np.ones(len(counts.candidates), dtype=bool)
    score = np.where(allowed, counts.recalled, -1)  # t = 0 is always allowed
    return counts.at(int(np.argmax(score)))  # the first maximum: the lowest threshold


def at_threshold(
    top: np.ndarray, predicted: np.ndarray, labels: np.ndarray, oos: int, threshold: float
) -> Abstention:
    """Return the figures that a given threshold gives."""
    return curve(top, predicted, labels, oos, [threshold])[0]


def curve(
    top: np.ndarray,
    predicted: np.ndarray,
    labels: np.ndarray,
    oos: int,
    thresholds: Iterable[float],
) -> list[Abstention]:
    """Return the figures at each distinct threshold, lowest first."""
    top = np.asarray(top, dtype=np.float64)
    counts = _count(top, predicted, labels, oos, np.asarray(list(thresholds), dtype=np.float64))
    return [counts.at(i) for i in range(len(counts.candidates))]


def _count(
    top: np.ndarray, predicted: np.ndarray, labels: np.ndarray, oos: int, candidates: np.ndarray
) -> _Counts:
    """Count every candidate's right and recalled rows with one sort and cumulative sums."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    candidates = np.unique(candidates)  # sorted, distinct
    order = np.argsort(top, kind="stable")
    in_scope = labels != oos
    kept_right = in_scope & (predicted == labels)  # right unless abstained
    caught = ~in_scope & (predicted == oos)  # recalled whatever the threshold
    rescued = ~in_scope & (predicted != oos)  # recalled only by abstaining
    below = np.searchsorted(top[order], candidates, side="left")  # rows with top < t
    zero = np.zeros(1, dtype=np.int64)
    right = int(kept_right.sum())
    correct = right - np.concatenate((zero, np.cumsum(kept_right[order])))[below]
    recalled = int(caught.sum()) + np.concatenate((zero, np.cumsum(rescued[order])))[below]
    n_in, n_oos = int(in_scope.sum()), int((~in_scope).sum())
    return _Counts(candidates, correct, recalled, n_in, n_oos, right)
