"""A job's evaluation cases (regressed, improved, both wrong) as Redis lists, read in pages."""

import json
from collections.abc import Iterable

from redis import Redis

from tuneloop.stages.compare import CASE_LISTS, WRONG_LISTS
from tuneloop.store import budget as budgets
from tuneloop.store import keys, scripts
from tuneloop.store.budget import NO_BUDGET, Budget

SWAP = scripts.source("cases_swap")

# Seconds a staging list lives unless renamed: a writer that died mid-write leaves nothing
# for good (as a job's artifacts, it outlives any run of compare).
STAGING_TTL = 7 * 86400
# The list compare may go without: when all the lists would take the project past its byte
# budget but the others fit, they are kept and it is not (the swap step takes it last).
OPTIONAL = "both_wrong"
assert CASE_LISTS[-1] == OPTIONAL


class CaseStore:
    """One list per outcome, a JSON record an element, in evaluation order; kept with the job."""

    def __init__(self, redis: Redis, chunk: int = 500, budget: Budget = NO_BUDGET) -> None:
        self.redis, self.budget = redis, budget
        self.chunk = chunk  # records per RPUSH
        self._swap = redis.register_script(SWAP)

    def replace(
        self, jid: str, records: Iterable[tuple[str, dict]], writer: str = ""
    ) -> dict[str, int]:
        """Store (outcome, record) pairs in place of any earlier ones; return counts per outcome.

        Written to staging lists of this writer (the stage's lease holder), then renamed in one
        step: a redelivered compare overwrites, never appends; two runners that overlap never
        write into one list; a reader never sees a half-written list. The lists' bytes are
        counted against the job's project's budget in that step: BudgetExceeded (the earlier
        lists stay) when the lists but OPTIONAL would take it past; when only OPTIONAL does not
        fit, the others are kept, OPTIONAL is not (nor any earlier one), and the counts omit it.
        """
        staging = {o: keys.job_cases(jid, f"{o}:staging:{writer}") for o in CASE_LISTS}
        pending: dict[str, list[str]] = {o: [] for o in CASE_LISTS}
        counts = dict.fromkeys(CASE_LISTS, 0)
        sizes = dict.fromkeys(CASE_LISTS, 0)
        try:
            self.redis.delete(*staging.values())  # what an earlier try of this writer left
            for outcome, record in records:
                pending[outcome].append(json.dumps(record))
                counts[outcome] += 1
                sizes[outcome] += len(pending[outcome][-1].encode())
                if len(pending[outcome]) >= self.chunk:
                    self._stage(staging[outcome], pending[outcome])
                    pending[outcome].clear()
            for outcome, rows in pending.items():
                if rows:
                    self._stage(staging[outcome], rows)
        except BaseException:
            self.redis.delete(*staging.values())
            raise
        raw = self.redis.hget(keys.job(jid), "project")
        project = json.loads(raw) if raw else keys.DEFAULT_PROJECT
        outcome = self._swap(
            keys=[
                keys.job(jid),
                keys.Space(project).usage,
                *(k for o in CASE_LISTS for k in (staging[o], keys.job_cases(jid, o))),
            ],
            args=[
                self.budget.max_bytes,
                sum(sizes.values()),
                sizes[OPTIONAL],
                *(counts[o] for o in CASE_LISTS),
            ],
        )
        budgets.raise_if_over(outcome)
        if outcome == "swapped_without_optional":
            del counts[OPTIONAL]
        return counts

    def _stage(self, staging: str, rows: list[str]) -> None:
        """Append rows to a staging list, which expires unless renamed."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.rpush(staging, *rows).expire(staging, STAGING_TTL)
        pipe.execute()

    def page(
        self, jid: str, outcome: str, limit: int, after: int | None = None
    ) -> tuple[list[dict], bool]:
        """Return up to limit records of an outcome whose index is above after, and whether
        more follow; wrong merges the lists of the cases the fine-tuned agent got wrong."""
        if outcome != "wrong":
            return self._page(jid, outcome, limit, after)
        pages = [self._page(jid, name, limit, after) for name in WRONG_LISTS]
        merged = sorted((r for records, _ in pages for r in records), key=lambda r: r["index"])
        # Each list's first limit records hold the merge's first limit: any later one has at
        # least limit records of its own list before it.
        return merged[:limit], len(merged) > limit or any(more for _, more in pages)

    def _page(
        self, jid: str, outcome: str, limit: int, after: int | None
    ) -> tuple[list[dict], bool]:
        """Return up to limit records of one list above after, and whether more follow."""
        key = keys.job_cases(jid, outcome)
        start = 0 if after is None else self._first_after(key, after)
        records = [json.loads(raw) for raw in self.redis.lrange(key, start, start + limit)]
        return records[:limit], len(records) > limit

    def _first_after(self, key: str, after: int) -> int:
        """Return the position of the first record with an index above after (binary search)."""
        low, high = 0, self.redis.llen(key)
        while low < high:
            middle = (low + high) // 2
            raw = self.redis.lindex(key, middle)
            if raw is not None and json.loads(raw)["index"] <= after:
                low = middle + 1
            else:  # above after, or past the end of a list replaced meanwhile
                high = middle
        return low

    def count(self, jid: str, outcome: str) -> int:
        """Return how many records one stored list holds."""
        return int(self.redis.llen(keys.job_cases(jid, outcome)))

    def delete(self, jid: str) -> None:
        """Remove every case list of a job, staging lists included."""
        found = self.redis.scan_iter(match=keys.job_cases(jid, "*"), count=100)
        names = [*(keys.job_cases(jid, o) for o in CASE_LISTS), *found]
        self.redis.delete(*names)
