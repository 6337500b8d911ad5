"""Prepare: count the train / validation split and describe the training data."""

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tuneloop.stages.split import HOLDOUT, TRAIN, VALIDATION, band, side_of, unit_of_normalized
from tuneloop.text import normalize


@dataclass
class _Lowest:
    """A task type's input of the lowest unit, and whether it has any other input."""

    unit: float
    key: str
    distinct: bool = False


@dataclass
class SplitCounter:
    """Streams kept examples and counts each side of the split per task type.

    With per_task (and a holdout) it also finds, per task type, the input to hold out if the
    bands alone held out none of its rows (see minimum_holdout).
    """

    seed: int
    holdout: float | None
    forced: frozenset[str] = frozenset()
    per_task: bool = False
    counts: dict[str, Counter] = field(
        default_factory=lambda: {side: Counter() for side in (TRAIN, VALIDATION, HOLDOUT)}
    )
    lowest: dict[str, _Lowest] = field(default_factory=dict)

    def feed(self, batch: Iterable[dict]) -> None:
        """Count a batch of kept examples."""
        for ex in batch:
            key, task = normalize(ex["input"]), ex["task_type"]
            u = unit_of_normalized(key, self.seed)
            self.counts[band(u, self.holdout, key in self.forced)][task] += 1
            if self.per_task and self.holdout is not None:
                self._track(task, key, u)

    def _track(self, task: str, key: str, u: float) -> None:
        """Keep the task type's lowest-unit input; note when it has a second distinct one."""
        low = self.lowest.get(task)
        if low is None:
            self.lowest[task] = _Lowest(u, key)
        elif key != low.key:
            low.distinct = True
            if u < low.unit:
                low.unit, low.key = u, key

    def minimum_holdout(self) -> frozenset[str]:
        """Return the inputs to hold out so each task type of 2+ distinct inputs has one held out.

        Its lowest-unit input: the one the holdout band is nearest to taking anyway.
        """
        held = self.counts[HOLDOUT]
        return frozenset(
            low.key for task, low in self.lowest.items() if low.distinct and not held[task]
        )

    def summary(self, dropped: dict) -> dict:
        """Describe the training data as the job result reports it."""
        train, validation, holdout = (self.counts[s] for s in (TRAIN, VALIDATION, HOLDOUT))
        return {
            "total_examples": sum(train.values()),
            "task_distribution": dict(sorted(train.items())),
            "validation_examples": sum(validation.values()),
            "validation_distribution": dict(sorted(validation.items())),
            "holdout_examples": sum(holdout.values()),
            "holdout_distribution": dict(sorted(holdout.items())),
            "dropped": dict(sorted(dropped.items())),
        }

    def untrained_tasks(self) -> list[str]:
        """Return the task types with kept examples but none on the training side."""
        others = set(self.counts[VALIDATION]) | set(self.counts[HOLDOUT])
        return sorted(others - set(self.counts[TRAIN]))


def one_side(
    batches: Iterable[list[dict]],
    seed: int,
    holdout: float | None,
    side: str = TRAIN,
    forced: frozenset[str] = frozenset(),
) -> Iterator[list[dict]]:
    """Yield the kept examples of one side of the split, batch by batch."""
    for batch in batches:
        yield [ex for ex in batch if side_of(ex["input"], seed, holdout, forced) == side]


def chat_lines(batches: Iterable[list[dict]]) -> Iterator[str]:
    """Render examples as chat-format JSONL lines, one conversation per line.

    Each line carries its task type as metadata.task_type, where the files parser reads it,
    so the file uploaded again trains the same task types. No rating: every row already
    passed the job's filter, and the parser's default (1.0) keeps it in the next job too.
    """
    for batch in batches:
        for ex in batch:
            messages = [
                {"role": "user", "content": ex["input"]},
                {"role": "assistant", "content": ex["output"]},
            ]
            line = {"messages": messages, "metadata": {"task_type": ex["task_type"]}}
            yield json.dumps(line, ensure_ascii=False) + "\n"


def to_chat_jsonl(examples: list[dict]) -> str:
    """Render examples as chat-format JSONL text."""
    return "".join(chat_lines([examples]))
