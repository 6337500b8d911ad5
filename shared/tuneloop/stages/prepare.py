"""Prepare: count the train / validation split and describe the training data."""

import json
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tuneloop.stages.split import HOLDOUT, TRAIN, VALIDATION, holdout_rank, side_of
from tuneloop.text import normalize


class StratifiedHoldout:
    """Streams kept examples and picks, per task type, the distinct inputs to hold out.

    A task type's distinct inputs are ranked by holdout_rank; the lowest fraction of them
    (rounded, at least one when it has two or more, never all) are held out. Memory: eight
    bytes a row, and one task type's distinct ranks at a time.
    """

    def __init__(self, seed: int, fraction: float) -> None:
        self.seed, self.fraction = seed, fraction
        self.ranks: dict[str, array] = {}

    def feed(self, batch: Iterable[dict]) -> None:
        """Note the rank of each example's input under its task type."""
        for ex in batch:
            ranks = self.ranks.setdefault(ex["task_type"], array("Q"))
            ranks.append(holdout_rank(normalize(ex["input"]), self.seed))

    def held(self) -> frozenset[int]:
        """Return the ranks of the inputs to hold out (of every task type)."""
        chosen: set[int] = set()
        for ranks in self.ranks.values():
            distinct = sorted(set(ranks))
            n = len(distinct)
            k = 0 if n < 2 else min(n - 1, max(1, round(self.fraction * n)))
            chosen.update(distinct[:k])
        return frozenset(chosen)


def held_to_bytes(held: frozenset[int]) -> bytes:
    """Pack a stratified holdout's ranks, sorted, eight bytes each."""
    return array("Q", sorted(held)).tobytes()


def held_from_bytes(raw: bytes | None) -> frozenset[int]:
    """Unpack what held_to_bytes packed (None: no stratified holdout)."""
    return frozenset(array("Q", raw or b""))


@dataclass
class SplitCounter:
    """Streams kept examples and counts each side of the split per task type."""

    seed: int
    holdout: float | None
    held: frozenset[int] = frozenset()
    counts: dict[str, Counter] = field(
        default_factory=lambda: {side: Counter() for side in (TRAIN, VALIDATION, HOLDOUT)}
    )

    def feed(self, batch: Iterable[dict]) -> None:
        """Count a batch of kept examples."""
        for ex in batch:
            side = side_of(ex["input"], self.seed, self.holdout, self.held)
            self.counts[side][ex["task_type"]] += 1

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
    held: frozenset[int] = frozenset(),
) -> Iterator[list[dict]]:
    """Yield the kept examples of one side of the split, batch by batch."""
    for batch in batches:
        yield [ex for ex in batch if side_of(ex["input"], seed, holdout, held) == side]


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
