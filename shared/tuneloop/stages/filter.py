"""Filter: keep the examples that pass the job's quality rules, counting what was dropped."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tuneloop.schemas.results import ExampleSchema
from tuneloop.stages.text import normalize

_EXAMPLE = ExampleSchema()


@dataclass
class QualityFilter:
    """Streaming filter; feed it batches, then read dropped."""

    min_score: float
    task_types: frozenset[str] | None = None
    excluded_inputs: frozenset[str] = frozenset()
    dropped: Counter = field(default_factory=Counter)
    _seen: set = field(default_factory=set)

    def reason_to_drop(self, ex: dict) -> str | None:
        """Return why ex is dropped, or None to keep it."""
        if _EXAMPLE.validate(ex):
            return "malformed"
        text, output, rating, task = (ex[k] for k in ("input", "output", "rating", "task_type"))
        if not text.strip() or not output.strip() or not task.strip():
            return "empty"
        if rating < self.min_score:
            return "below_min_score"
        if self.task_types is not None and task not in self.task_types:
            return "task_type_not_selected"
        key = normalize(text)
        if key in self.excluded_inputs:
            return "in_evaluation_set"
        identity = (key, normalize(output), task)
        if identity in self._seen:
            return "duplicate"
        self._seen.add(identity)
        return None

    def feed(self, batch: Iterable[dict]) -> list[dict]:
        """Return the examples of batch that pass, counting the others by reason."""
        kept = []
        for ex in batch:
            reason = self.reason_to_drop(ex)
            if reason is None:
                kept.append(ex)
            else:
                self.dropped[reason] += 1
        return kept
