"""Classification truth with scikit-learn: per-task precision, recall, F1, support; confusions."""

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from tuneloop.stages.compare import TOP_CONFUSIONS


def macro_f1(expected: np.ndarray, predicted: np.ndarray) -> float:
    """Return the mean F1 over the task types the cases expect (sklearn, labels=those types)."""
    return float(
        f1_score(expected, predicted, labels=np.unique(expected), average="macro", zero_division=0)
    )


def confused_pairs(
    labels: list[str], expected: np.ndarray, predicted: np.ndarray, top: int = TOP_CONFUSIONS
) -> list[dict]:
    """Return the most frequent (expected -> predicted) mistakes, most first, then by name.

    Counted over the wrong cases only, not from sklearn's dense K x K confusion_matrix, so
    thousands of task types cost O(cases); a unit test checks it against confusion_matrix.
    """
    wrong = expected != predicted
    pairs, counts = np.unique(
        np.stack([expected[wrong], predicted[wrong]], axis=1), axis=0, return_counts=True
    )
    ranked = sorted(
        (-int(count), labels[e], labels[p]) for (e, p), count in zip(pairs, counts, strict=True)
    )
    return [{"expected": e, "predicted": p, "count": -c} for c, e, p in ranked[:top]]


def classification(labels: list[str], expected: np.ndarray, predicted: np.ndarray) -> dict:
    """Return accuracy, macro-F1, per-task scores and the top confused pairs of one agent.

    Per-task rows cover every task type expected or predicted (a type only predicted has
    support 0); macro-F1 averages the expected types only (see macro_f1).
    """
    seen = np.union1d(expected, predicted)
    precision, recall, f1, support = precision_recall_fscore_support(
        expected, predicted, labels=seen, zero_division=0
    )
    by_task = {
        labels[code]: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, code in enumerate(seen)
    }
    return {
        "accuracy": float(accuracy_score(expected, predicted)),
        "macro_f1": macro_f1(expected, predicted),
        "by_task_type": by_task,
        "confused_pairs": confused_pairs(labels, expected, predicted),
    }
