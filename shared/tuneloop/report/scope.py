"""Out of scope: how an agent treats the inputs that belong to the job's out-of-scope task."""

import numpy as np

from tuneloop.report.abstain import curve
from tuneloop.report.outcomes import Outcomes
from tuneloop.report.routes import Routes
from tuneloop.report.tradeoff import curve_thresholds


def _share(part: np.ndarray, of: np.ndarray) -> float | None:
    """Return the fraction of the cases in of that are also in part, or None when of is empty."""
    total = int(np.sum(of))
    return int(np.sum(part & of)) / total if total else None


def agent_scope(o: Outcomes, task: str) -> dict:
    """Return in-scope accuracy and out-of-scope recall and precision of one agent."""
    code = o.labels.index(task) if task in o.labels else -1  # -1: never expected or answered
    truly, answered = o.expected == code, o.predicted == code
    return {
        "in_scope_accuracy": _share(o.correct, ~truly),
        "out_of_scope_recall": _share(answered, truly),
        "out_of_scope_precision": _share(truly, answered),
        "n_in_scope": int(np.sum(~truly)),
        "n_out_of_scope": int(np.sum(truly)),
    }


def tradeoff(task: str, threshold: float, o: Outcomes, routes: Routes) -> list[dict] | None:
    """Return the agent's in-scope accuracy and out-of-scope recall at the curve's thresholds.

    Computed from where it routed each case before abstaining, as if it abstained at each
    threshold; None when the routes are not of these cases.
    """
    if len(routes.top) != len(o.expected):
        return None
    labels = sorted(set(o.labels) | set(routes.labels) | {task})
    code = {label: i for i, label in enumerate(labels)}
    expected = np.array([code[label] for label in o.labels], dtype=np.int32)[o.expected]
    routed = np.array([code[label] for label in routes.labels], dtype=np.int32)[routes.task]
    points = curve(routes.top, routed, expected, code[task], curve_thresholds(threshold))
    return [p.point() for p in points]


def out_of_scope(
    task: str,
    abstention: dict | None,
    baseline: Outcomes,
    fine_tuned: Outcomes,
    routes: Routes | None = None,
) -> dict:
    """Return both agents' out-of-scope figures, the threshold and the fine-tuned agent's curve."""
    own = abstention is not None and abstention.get("task") == task
    threshold = abstention["threshold"] if own else None
    points = None
    if routes is not None:
        points = tradeoff(task, threshold or 0.0, fine_tuned, routes)
    return {
        "task": task,
        "threshold": threshold,
        "baseline": agent_scope(baseline, task),
        "fine_tuned": agent_scope(fine_tuned, task),
        "curve": points,
    }
