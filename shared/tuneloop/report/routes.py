"""Where an agent routes each evaluation case before abstaining: its top task and probability.

Kept for the out-of-scope trade-off: with them the report can say what the same agent would
score on the same cases at any other abstention threshold, without answering them again.
"""

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tuneloop.agent import npz


@dataclass(frozen=True)
class Routes:
    """Per case, in case order: the top task (a code into labels) and its probability."""

    labels: list[str]
    task: np.ndarray
    top: np.ndarray


class RouteLog:
    """Collect routes batch by batch: 4 + 8 bytes a case."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self._task, self._top = array("i"), array("d")

    def add(self, top: Sequence[float], tasks: Sequence[str]) -> None:
        """Record one batch of top probabilities and their tasks."""
        self._top.extend(float(p) for p in top)
        self._task.extend(self._codes.setdefault(t, len(self._codes)) for t in tasks)

    def routes(self) -> Routes:
        """Return what was recorded."""
        task = np.array(self._task, dtype=np.int32)
        return Routes(list(self._codes), task, np.array(self._top, dtype=np.float64))


def dump(routes: Routes) -> bytes:
    """Return routes as .npz bytes (no pickle; the labels in the header)."""
    return npz.dump({"task": routes.task, "top": routes.top}, {"labels": routes.labels})


def load(data: bytes | None) -> Routes | None:
    """Rebuild routes written by dump; None for none."""
    if data is None:
        return None
    arrays, header = npz.load(data)
    return Routes(header["labels"], arrays["task"], arrays["top"])
