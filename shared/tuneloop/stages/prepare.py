"""Prepare: split the kept examples, describe the training data, resolve "auto" controls.

The split: which side an input is on is computed from (seed, normalized input), never stored.

Every row with the same normalized input lands on the same side, whatever its task type, so
an input is never both trained on and evaluated. With a holdout the unit interval is cut in
three bands: the holdout (evaluated, never seen in training), then the validation band
(early stopping and the validation loss), then training.

A stratified holdout (holdout_per_task, the default evaluation) is not a band: prepare ranks
each task type's distinct inputs by a second hash and holds out the lowest holdout_fraction
of them, at least one of a task type with two or more and never all (see
StratifiedHoldout); the held inputs' hashes are kept, and every row of a held input
is held out whatever its task type. The others validate or train by the bands without cut.
"""

import hashlib
import json
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tuneloop.graph import AUTO
from tuneloop.text import normalize

DEFAULT_VALIDATION_FRACTION = 0.2
DEFAULT_HOLDOUT_FRACTION = 0.2  # a job given no evaluation set is scored on this share of its rows
TRAIN, VALIDATION, HOLDOUT = "train", "validation", "holdout"
_SCALE = float(2**64)


def unit(text: str, seed: int) -> float:
    """Return a number in [0, 1) fixed by the seed and the normalized input."""
    digest = hashlib.blake2b(f"{seed}\x00{normalize(text)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def in_validation(text: str, seed: int, fraction: float) -> bool:
    """Return whether an input falls in the first `fraction` of the unit interval."""
    return unit(text, seed) < fraction


def holdout_rank(key: str, seed: int) -> int:
    """Return the 64-bit hash a stratified holdout ranks a normalized input by."""
    digest = hashlib.blake2b(f"holdout\x00{seed}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def side_of(text: str, seed: int, holdout: float | None, held: frozenset[int] = frozenset()) -> str:
    """Return TRAIN, VALIDATION or HOLDOUT for an input.

    Without a holdout, DEFAULT_VALIDATION_FRACTION of the inputs validate. With one, the
    holdout comes first and the validation band takes that fraction of the rest, so the
    model is never chosen (early stopping, best epoch) on the rows it is scored on. An input
    whose holdout_rank is in held (a stratified holdout's) is held out.
    """
    if held and holdout_rank(normalize(text), seed) in held:
        return HOLDOUT
    u = unit(text, seed)
    cut = holdout or 0.0
    if u < cut:
        return HOLDOUT
    if u < cut + DEFAULT_VALIDATION_FRACTION * (1.0 - cut):
        return VALIDATION
    return TRAIN


# --- "auto" training controls, resolved from the size of the training data ---

# Examples seen over a whole run when n_epochs is auto, and its bounds.
TARGET_EXAMPLES_SEEN = 150_000
MIN_EPOCHS, MAX_EPOCHS = 3, 30
# Rows per batch when batch_size is auto: about n / 300, as a power of two in these bounds.
ROWS_PER_STEP_DIVISOR = 300
MIN_BATCH, MAX_BATCH = 16, 512
# AdaGrad step size at 32 rows a batch; auto grows it with the square root of the batch.
BASE_LEARNING_RATE, BASE_BATCH = 0.2, 32
DEFAULT_L2 = 1e-6
DEFAULT_PATIENCE = 3


def resolve(requested: dict, n_train: int) -> dict:
    """Return every control with "auto" replaced by its value for n_train training rows."""
    n = max(n_train, 1)
    out = dict(requested)
    if out.get("batch_size", AUTO) == AUTO:
        power = round(math.log2(max(n / ROWS_PER_STEP_DIVISOR, 1)))
        out["batch_size"] = min(max(2**power, MIN_BATCH), MAX_BATCH)
    if out.get("learning_rate", AUTO) == AUTO:
        scale = out.get("learning_rate_multiplier") or 1.0
        out["learning_rate"] = round(
            scale * BASE_LEARNING_RATE * math.sqrt(out["batch_size"] / BASE_BATCH), 4
        )
    if out.get("n_epochs", AUTO) == AUTO:
        out["n_epochs"] = min(max(math.ceil(TARGET_EXAMPLES_SEEN / n), MIN_EPOCHS), MAX_EPOCHS)
    out.setdefault("l2", DEFAULT_L2)
    out.setdefault("early_stopping_patience", DEFAULT_PATIENCE)
    out.setdefault("seed", 42)
    return out


def auto_fields(requested: dict) -> list[str]:
    """Return the names of the controls the request left to "auto"."""
    return sorted(
        k for k in ("n_epochs", "learning_rate", "batch_size") if requested.get(k, AUTO) == AUTO
    )


# --- counting the split ---


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
            prompt = ex.get("messages") or [{"role": "user", "content": ex["input"]}]
            messages = [*prompt, {"role": "assistant", "content": ex["output"]}]
            line: dict = {"messages": messages}
            if ex.get("task_type") is not None:  # a language model's rows may have none
                line["metadata"] = {"task_type": ex["task_type"]}
            yield json.dumps(line, ensure_ascii=False) + "\n"


def to_chat_jsonl(examples: list[dict]) -> str:
    """Render examples as chat-format JSONL text."""
    return "".join(chat_lines([examples]))
