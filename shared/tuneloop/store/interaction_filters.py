"""The interaction list's filters: which index a page reads, and which records it keeps.

A page streams the narrowest index that holds every match (a model's, else a task type's,
else the project's), reading records in batches and testing each one here. A request reads
at most MAX_SCANNED records: a rare match answers a short (even empty) page with has_more and
a cursor, so no request costs more than that, however many records the project holds.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tuneloop.contracts import RATING_SCORE
from tuneloop.store import keys

MAX_SCANNED = 10_000  # records one list request reads at most


@dataclass(frozen=True)
class InteractionFilter:
    """What the list was asked for; an unset field keeps every record."""

    task_type: str | None = None
    model: str | None = None
    min_rating: float | None = None
    max_rating: float | None = None
    q: str | None = None
    source: str | None = None
    score: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    created_after: int | None = None
    created_before: int | None = None

    def index(self, space: keys.Space) -> str:
        """The narrowest index that holds every record this filter can keep."""
        if self.model:
            return space.interactions_of_model(self.model)
        if self.task_type:
            return space.interactions_of_task(self.task_type)
        return space.interactions

    def keeps(self, record: dict) -> bool:
        """Whether record passes every filter given."""
        return all(test(record) for test in self._tests())

    def _tests(self) -> Iterable[Callable[[dict], bool]]:
        if self.task_type is not None:
            yield lambda r: r["task_type"] == self.task_type
        if self.model is not None:
            yield lambda r: r.get("model") == self.model
        if self.source is not None:
            yield lambda r: r.get("source", "human") == self.source
        if self.min_rating is not None or self.max_rating is not None:
            yield lambda r: _within(r["rating"], self.min_rating, self.max_rating)
        if self.created_after is not None:
            yield lambda r: r["created_at"] >= self.created_after
        if self.created_before is not None:
            yield lambda r: r["created_at"] < self.created_before
        if self.score is not None:
            yield lambda r: _within(score_of(r, self.score), self.min_score, self.max_score)
        if self.q is not None:
            needle = self.q.casefold()
            yield lambda r: needle in r["input"].casefold() or needle in r["output"].casefold()


def score_of(record: dict, name: str) -> float | None:
    """The record's score of that name (the rating for RATING_SCORE); None when it has none."""
    if name == RATING_SCORE:
        return record["rating"]
    return next((s["value"] for s in record.get("scores", []) if s["name"] == name), None)


def _within(value: float | None, low: float | None, high: float | None) -> bool:
    return value is not None and (low is None or value >= low) and (high is None or value <= high)


def scan_page(
    batches: Iterable[list[dict]], limit: int, keep: Callable[[dict], bool], most: int
) -> tuple[list[dict], str | None]:
    """The first limit records keep accepts, reading at most most; and the next page's cursor.

    The cursor (None: nothing follows) is the last record returned on a full page, or the last
    record read when the scan stopped at most records with the page still short.
    """
    found: list[dict] = []
    read, last = 0, None
    for batch in batches:
        for record in batch:
            if keep(record):
                if len(found) == limit:
                    return found, found[-1]["id"]
                found.append(record)
            read, last = read + 1, record["id"]
            if read >= most:
                return found, last
    return found, None
