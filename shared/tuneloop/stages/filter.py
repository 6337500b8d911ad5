"""Filter: judge each collected example against the job's quality rules, counting drops.

What passed is kept as a packed bit per collected row: 1 when the row passed (no copies).
"""

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tuneloop.contracts import RATING_SCORE
from tuneloop.text import normalize

_TEXT_FIELDS = ("input", "output", "task_type")


def malformed(ex: object) -> bool:
    """Return whether a row lacks the shape ExampleSchema describes (a cheap structural check).

    Rows were validated once, by the gateway's schemas, before they were stored; this only
    guards the stage against a row it cannot read (missing fields, wrong types, a rating
    outside 0-1 or NaN, non-numeric scores), without marshmallow's cost per row.
    """
    if not isinstance(ex, dict) or any(type(ex.get(k)) is not str for k in _TEXT_FIELDS):
        return True
    rating = ex.get("rating")
    if type(rating) not in (float, int) or not 0.0 <= rating <= 1.0:  # NaN fails too
        return True
    if "scores" not in ex:
        return False
    scores = ex["scores"]
    return not isinstance(scores, dict) or any(
        type(v) not in (float, int) or v != v or v in (float("inf"), float("-inf"))
        for v in scores.values()
    )


def _identity(text: str, output: str, task: str) -> int:
    """Return a 64-bit digest of an example's identity, so 1M rows fit in a small set."""
    key = "\x00".join((normalize(text), normalize(output), task)).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


@dataclass
class QualityFilter:
    """Streaming filter; feed it batches, then read dropped."""

    min_score: float
    score_name: str = RATING_SCORE
    task_types: frozenset[str] | None = None
    excluded_inputs: frozenset[str] = frozenset()
    dropped: Counter = field(default_factory=Counter)
    kept: int = 0
    _seen: set[int] = field(default_factory=set)

    def reason_to_drop(self, ex: dict) -> str | None:
        """Return why ex is dropped, or None to keep it."""
        if isinstance(ex, dict) and "task_type" in ex and ex["task_type"] is None:
            return "no_task_type"  # a training file's line without metadata.task_type
        if malformed(ex):
            return "malformed"
        text, output, rating, task = (ex[k] for k in ("input", "output", "rating", "task_type"))
        if not text.strip() or not output.strip() or not task.strip():
            return "empty"
        score = rating if self.score_name == RATING_SCORE else self._score(ex)
        if score is None:
            return "no_score"
        if score < self.min_score:
            return "below_min_score"
        if self.task_types is not None and task not in self.task_types:
            return "task_type_not_selected"
        if normalize(text) in self.excluded_inputs:
            return "in_evaluation_set"
        identity = _identity(text, output, task)
        if identity in self._seen:
            return "duplicate"
        self._seen.add(identity)
        return None

    def _score(self, ex: dict) -> float | None:
        """Return the example's score of the chosen name, or None when it has none."""
        return (ex.get("scores") or {}).get(self.score_name)

    def judge(self, batch: list[dict]) -> list[bool]:
        """Return a keep flag per example of batch, counting the dropped ones by reason."""
        flags = []
        for ex in batch:
            reason = self.reason_to_drop(ex)
            flags.append(reason is None)
            if reason is None:
                self.kept += 1
            else:
                self.dropped[reason] += 1
        return flags

    def feed(self, batch: list[dict]) -> list[dict]:
        """Return the examples of batch that pass."""
        return [ex for ex, keep in zip(batch, self.judge(batch), strict=True) if keep]


class MaskWriter:
    """Append keep/drop flags; getvalue() returns them packed, first row in the high bit."""

    def __init__(self) -> None:
        self._bytes = bytearray()
        self._n = 0

    def extend(self, flags: Iterable[bool]) -> None:
        """Append flags in row order."""
        for flag in flags:
            if self._n % 8 == 0:
                self._bytes.append(0)
            if flag:
                self._bytes[-1] |= 0x80 >> (self._n % 8)
            self._n += 1

    def __len__(self) -> int:
        return self._n

    def getvalue(self) -> bytes:
        """Return the packed flags."""
        return bytes(self._bytes)


def select(mask: bytes, batches: Iterable[list[dict]]) -> Iterator[list[dict]]:
    """Yield, batch by batch, the rows whose bit is set in mask (rows in the order written)."""
    position = 0
    for batch in batches:
        kept = []
        for row in batch:
            byte = position >> 3
            if byte < len(mask) and mask[byte] & (0x80 >> (position & 7)):
                kept.append(row)
            position += 1
        yield kept
