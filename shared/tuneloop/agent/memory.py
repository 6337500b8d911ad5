"""The response memory: the best-rated answer to each distinct input, a bounded few per task."""

from collections.abc import Iterable

from tuneloop.text import normalize

MEMORY_PER_TASK = 64


def _rank(row: dict) -> tuple:
    """Sort key: best rating first, then input and output for a stable order."""
    return (-row["rating"], row["input"], row["output"])


class MemoryBuilder:
    """Streams examples and keeps, per task, the top rows by rating among distinct inputs.

    Holds at most twice `per_task` candidates per task at any time, whatever the data size.
    """

    def __init__(self, per_task: int = MEMORY_PER_TASK) -> None:
        self.per_task = per_task
        self._candidates: dict[str, dict[str, dict]] = {}

    def feed(self, examples: Iterable[dict]) -> None:
        """Consider a batch of examples."""
        for ex in examples:
            pool = self._candidates.setdefault(ex["task_type"], {})
            row = {"input": ex["input"], "output": ex["output"], "rating": ex["rating"]}
            key = normalize(ex["input"])
            if key not in pool or _rank(row) < _rank(pool[key]):
                pool[key] = row
            if len(pool) > 2 * self.per_task:
                self._prune(pool)

    def _prune(self, pool: dict[str, dict]) -> None:
        """Drop all but the per_task best rows of one task's pool."""
        keep = sorted(pool.items(), key=lambda kv: _rank(kv[1]))[: self.per_task]
        pool.clear()
        pool.update(keep)

    def build(self) -> dict[str, list[dict]]:
        """Return task -> its best rows, best first."""
        return {
            task: sorted(pool.values(), key=_rank)[: self.per_task]
            for task, pool in sorted(self._candidates.items())
        }
