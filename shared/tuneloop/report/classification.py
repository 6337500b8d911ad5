"""Classification truth as scikit-learn gives it: per-task precision, recall, F1, support."""

import numpy as np
from sklearn.metrics import f1_score

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


def per_task_scores(
    expected: np.ndarray, predicted: np.ndarray, types: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return precision, recall, F1 and support of each of types, as sklearn's (zero_division=0).

    From three bincounts: sklearn's precision_recall_fscore_support gives the same figures
    (a unit test checks it) but spends most of its time validating its input.
    """
    size = int(max(expected.max(initial=-1), predicted.max(initial=-1), types.max(initial=-1))) + 1
    support = np.bincount(expected, minlength=size)[types]
    guessed = np.bincount(predicted, minlength=size)[types]
    hits = np.bincount(expected[expected == predicted], minlength=size)[types]
    precision = np.divide(hits, guessed, out=np.zeros(len(types)), where=guessed > 0)
    recall = np.divide(hits, support, out=np.zeros(len(types)), where=support > 0)
    either = support + guessed
    f1 = np.divide(2 * hits, either, out=np.zeros(len(types)), where=either > 0)
    return precision, recall, f1, support


def classification(labels: list[str], expected: np.ndarray, predicted: np.ndarray) -> dict:
    """Return accuracy, macro-F1, per-task scores and the top confused pairs of one agent.

    Per-task rows cover every task type expected or predicted (a type only predicted has
    support 0); macro-F1 averages the expected types only (see macro_f1).
    """
    if not len(expected):
        raise ValueError("no cases to score")
    seen = np.union1d(expected, predicted)
    precision, recall, f1, support = per_task_scores(expected, predicted, seen)
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
        "accuracy": float(np.mean(expected == predicted)),
        "macro_f1": float(np.mean(f1[support > 0])),  # macro_f1's mean, from the F1s above
        "by_task_type": by_task,
        "confused_pairs": confused_pairs(labels, expected, predicted),
    }
