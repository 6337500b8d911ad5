"""Out of scope: how an agent treats the inputs that belong to the job's out-of-scope task."""

import numpy as np

from tuneloop.stages.outcomes import Outcomes


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


def out_of_scope(
    task: str, abstention: dict | None, baseline: Outcomes, fine_tuned: Outcomes
) -> dict:
    """Return both agents' out-of-scope figures and the agent's threshold for task (or None)."""
    own = abstention is not None and abstention.get("task") == task
    return {
        "task": task,
        "threshold": abstention["threshold"] if own else None,
        "baseline": agent_scope(baseline, task),
        "fine_tuned": agent_scope(fine_tuned, task),
    }
