"""Prepare: count the train / validation split and describe the training data."""

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tuneloop.stages.split import HOLDOUT, TRAIN, VALIDATION, side_of


@dataclass
class SplitCounter:
    """Streams kept examples and counts each side of the split per task type."""

    seed: int
    holdout: float | None
    counts: dict[str, Counter] = field(
        default_factory=lambda: {side: Counter() for side in (TRAIN, VALIDATION, HOLDOUT)}
    )

    def feed(self, batch: Iterable[dict]) -> None:
        """Count a batch of kept examples."""
        for ex in batch:
            self.counts[side_of(ex["input"], self.seed, self.holdout)][ex["task_type"]] += 1

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
    batches: Iterable[list[dict]], seed: int, holdout: float | None, side: str = TRAIN
) -> Iterator[list[dict]]:
    """Yield the kept examples of one side of the split, batch by batch."""
    for batch in batches:
        yield [ex for ex in batch if side_of(ex["input"], seed, holdout) == side]


def chat_lines(batches: Iterable[list[dict]]) -> Iterator[str]:
    """Render examples as chat-format JSONL lines, one conversation per line."""
    for batch in batches:
        for ex in batch:
            messages = [
                {"role": "user", "content": ex["input"]},
                {"role": "assistant", "content": ex["output"]},
            ]
            yield json.dumps({"messages": messages}, ensure_ascii=False) + "\n"


def to_chat_jsonl(examples: list[dict]) -> str:
    """Render examples as chat-format JSONL text."""
    return "".join(chat_lines([examples]))
