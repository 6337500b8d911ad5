"""Prepare: count the train / validation split and describe the training data."""

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tuneloop.stages.split import in_validation


@dataclass
class SplitCounter:
    """Streams kept examples and counts each side of the split per task type."""

    seed: int
    fraction: float
    train: Counter = field(default_factory=Counter)
    validation: Counter = field(default_factory=Counter)

    def feed(self, batch: Iterable[dict]) -> None:
        """Count a batch of kept examples."""
        for ex in batch:
            side = in_validation(ex["input"], self.seed, self.fraction)
            (self.validation if side else self.train)[ex["task_type"]] += 1

    def summary(self, dropped: dict) -> dict:
        """Describe the training data as the job result reports it."""
        return {
            "total_examples": sum(self.train.values()),
            "task_distribution": dict(sorted(self.train.items())),
            "validation_examples": sum(self.validation.values()),
            "validation_distribution": dict(sorted(self.validation.items())),
            "dropped": dict(sorted(dropped.items())),
        }

    def untrained_tasks(self) -> list[str]:
        """Return the task types whose every example landed on the validation side."""
        return sorted(set(self.validation) - set(self.train))


def training_side(
    batches: Iterable[list[dict]], seed: int, fraction: float, validation: bool = False
) -> Iterator[list[dict]]:
    """Yield the kept examples of one side of the split, batch by batch."""
    for batch in batches:
        yield [ex for ex in batch if in_validation(ex["input"], seed, fraction) == validation]


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
