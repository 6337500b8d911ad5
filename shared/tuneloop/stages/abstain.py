"""Choose the top-probability threshold under which the agent answers "out of scope".

After abstention a row's prediction is the out-of-scope class when its top probability is
under the threshold t, else the router's argmax. The chosen t maximises in-scope accuracy
(right among rows whose true label is in scope) + out-of-scope recall (predicted out of
scope among truly out-of-scope rows). A term with no rows to measure is undefined: it is
reported as None and counts 0 in the objective (so with no out-of-scope rows, t = 0).

Candidates: 0, every distinct top probability (abstaining on the rows strictly under it),
and 1 (abstaining on every row not certain). Each gives the outcome of every t above the
next lower candidate up to itself, so together they give every outcome a t in [0, 1] can.
Ties go to the lowest candidate, the one abstaining least.
"""

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Abstention:
    """A threshold and what it gives on the rows it was measured on."""

    threshold: float
    in_scope_accuracy: float | None  # None: no in-scope row
    out_of_scope_recall: float | None  # None: no out-of-scope row
    n_in_scope: int
    n_out_of_scope: int
    objective: float

    def figures(self) -> dict:
        """Return the measured figures, without the threshold."""
        figures = asdict(self)
        del figures["threshold"]
        return figures


def choose_threshold(
    top: np.ndarray, predicted: np.ndarray, labels: np.ndarray, oos: int
) -> Abstention:
    """Return the lowest threshold maximising in-scope accuracy + out-of-scope recall."""
    top = np.asarray(top, dtype=np.float64)
    candidates = np.unique(np.concatenate(([0.0], top, [1.0])))
    return _best(top, np.asarray(predicted), np.asarray(labels), oos, candidates)


def at_threshold(
    top: np.ndarray, predicted: np.ndarray, labels: np.ndarray, oos: int, threshold: float
) -> Abstention:
    """Return the figures that a given threshold gives."""
    top = np.asarray(top, dtype=np.float64)
    candidates = np.asarray([threshold], dtype=np.float64)
    return _best(top, np.asarray(predicted), np.asarray(labels), oos, candidates)


def _best(
    top: np.ndarray, predicted: np.ndarray, labels: np.ndarray, oos: int, candidates: np.ndarray
) -> Abstention:
    """Score every candidate (ascending) with one sort and cumulative sums; return the best."""
    order = np.argsort(top, kind="stable")
    in_scope = labels != oos
    kept_right = in_scope & (predicted == labels)  # right unless abstained
    caught = ~in_scope & (predicted == oos)  # recalled whatever the threshold
    rescued = ~in_scope & (predicted != oos)  # recalled only by abstaining
    below = np.searchsorted(top[order], candidates, side="left")  # rows with top < t
    zero = np.zeros(1, dtype=np.int64)
    correct = int(kept_right.sum()) - np.concatenate((zero, np.cumsum(kept_right[order])))[below]
    recalled = int(caught.sum()) + np.concatenate((zero, np.cumsum(rescued[order])))[below]
    n_in, n_oos = int(in_scope.sum()), int((~in_scope).sum())
    # n_in * n_oos * objective, in integers, so equal objectives tie exactly
    score = correct * max(n_oos, 1) + recalled * max(n_in, 1)
    i = int(np.argmax(score))  # the first maximum: the lowest threshold
    accuracy = int(correct[i]) / n_in if n_in else None
    recall = int(recalled[i]) / n_oos if n_oos else None
    return Abstention(
        float(candidates[i]), accuracy, recall, n_in, n_oos, (accuracy or 0.0) + (recall or 0.0)
    )
