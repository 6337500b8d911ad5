"""Rated interactions: stored atomically, listed by cursor, edited, read as a snapshot.

An interaction may name the model that produced its output (``model``; a record holds the
key only when it has one): the project keeps an index of each model's interactions, moved in
the same script as the record (add, an edit of the model, delete), and a count of
interactions ever added, for the autopilot's triggers and rollback rule.
"""

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

from redis import Redis

from tuneloop.store import budget as budgets
from tuneloop.store import ids, keys, paging, prefixes, ratelimit, scripts, versions
from tuneloop.store.budget import NO_BUDGET, Budget
from tuneloop.store.interaction_filters import MAX_SCANNED, InteractionFilter, scan_page
from tuneloop.store.ratelimit import Window
from tuneloop.timeutil import now

MAX_EVENTS = 100  # audit events kept per interaction (the oldest go first)
EVENTS_TTL = 30 * 86400  # seconds a deleted interaction's audit events are kept
EDIT_TRIES = 20  # compare-and-set attempts before an edit gives up (EditConflictError)
RATINGS_BATCH = 500  # records read per round by recent_ratings


class EditConflictError(Exception):
    """The interaction kept changing under an edit; retrying later will do."""


class SnapshotGoneError(KeyError):
    """Versions the snapshot needs were reclaimed: it can no longer be read as it was."""


# Every item of a batch in one script, its rate-limit windows counted first.
_ADD_SCRIPT = scripts.source("interaction_add_many")


def rating_bucket(rating: float) -> str:
    """Return the histogram bucket of a rating: ten buckets of width 0.1."""
    low = min(int(rating * 10), 9) / 10
    return f"{low:.1f}-{low + 0.1:.1f}"


class InteractionStore:
    """One project's interactions, their per-task index and running statistics."""

    def __init__(
        self, redis: Redis, space: keys.Space = keys.DEFAULT_SPACE, budget: Budget = NO_BUDGET
    ) -> None:
        self.redis, self.k, self.budget = redis, space, budget
        born, self._history, self._ended, bodies, self._deleted, self._reclaimed = space.versions
        self._head = [space.interaction_seq, space.interactions]
        self._counts = [space.task_counts, space.rating_counts]
        self._versions = [born, self._history, self._ended, bodies]
        self._add = redis.register_script(_ADD_SCRIPT)
        self._edit = redis.register_script(versions.EDIT)
        self._delete = redis.register_script(versions.DELETE)
        self._batch = redis.register_script(versions.SNAPSHOT_BATCH)
        self._size = redis.register_script(versions.SNAPSHOT_SIZE)
        self._reclaim = redis.register_script(versions.RECLAIM)

    def add_many(self, items: Sequence[dict], limit: Sequence[Window] = ()) -> list[dict]:
        """Store validated interactions in one atomic step: all of them or none.

        The limit's windows are counted in the same step; RateLimitedError (nothing stored)
        when one is used up, BudgetExceeded (nothing stored) past the project's byte budget.
        """
        created = now()
        records = [
            _without_no_model(
                {
                    "id": ids.new_interaction(),
                    "object": "interaction",
                    "created_at": created,
                    "source": "human",
                    "metadata": {},
                    **item,
                }
            )
            for item in items
        ]
        tasks = Counter(r["task_type"] for r in records)
        slot = {task: i for i, task in enumerate(tasks, start=1)}
        named = dict.fromkeys(r["model"] for r in records if "model" in r)
        models = {model: i for i, model in enumerate(named, start=1)}
        buckets = Counter(rating_bucket(r["rating"]) for r in records)
        outcome = self._add(
            keys=[
                *self._head,
                *self._counts,
                self.k.usage,
                self.k.interactions_added,
                *ratelimit.window_keys(limit),
                *(self.k.interaction(r["id"]) for r in records),
                *(self.k.interactions_of_task(task) for task in tasks),
                *(self.k.interactions_of_model(model) for model in models),
            ],
            args=[
                len(records),
                len(tasks),
                len(limit),
                self.budget.max_bytes,
                *ratelimit.window_args(limit),
                *(r["id"] for r in records),
                *(json.dumps(r, separators=(",", ":")) for r in records),
                *(slot[r["task_type"]] for r in records),
                *(models.get(r.get("model"), 0) for r in records),
                *(x for pair in tasks.items() for x in pair),
                *(x for pair in buckets.items() for x in pair),
            ],
        )
        ratelimit.raise_if_over(outcome)
        budgets.raise_if_over(outcome)
        return records

    def last_seq(self) -> int:
        """Return the sequence number of the newest interaction (0 when none)."""
        return int(self.redis.get(self.k.interaction_seq) or 0)

    def ratings_added(self) -> int:
        """Return how many interactions were ever added to the project (deletes never lower it)."""
        return int(self.redis.get(self.k.interactions_added) or 0)

    def recent_ratings(self, model: str, limit: int) -> list[float]:
        """Return the current ratings of the model's newest limit interactions, newest first."""
        found: list[float] = []
        if limit < 1:
            return found
        index, batch = self.k.interactions_of_model(model), min(limit, RATINGS_BATCH)
        for page_ids in paging.ids_from(self.redis, index, "+inf", "-inf", True, batch):
            # An id whose record went (deleted) or moved to another model since is passed over.
            found += [r["rating"] for r in self.get_many(page_ids) if r.get("model") == model]
            if len(found) >= limit:
                break
        return found[:limit]

    def count(self) -> int:
        """Return how many interactions are stored."""
        return int(self.redis.zcard(self.k.interactions))

    def get_many(self, ids: Sequence[str]) -> list[dict]:
        """Return the records of ids, skipping any that are missing."""
        if not ids:
            return []
        raw = self.redis.mget([self.k.interaction(i) for i in ids])
        return [json.loads(r) for r in raw if r is not None]

    def page(
        self,
        limit: int,
        after: str | None = None,
        most: int = MAX_SCANNED,
        **filters: object,
    ) -> tuple[list[dict], str | None]:
        """Return up to limit interactions after the cursor that pass filters, oldest first.

        With them the next page's cursor (None when nothing follows); at most most records are
        read (interaction_filters says how). KeyError when after is unknown.
        """
        wanted = InteractionFilter(**filters)
        start = paging.start_after(self.redis, self.k.interactions, after)
        index = wanted.index(self.k)
        batches = (self.get_many(ids) for ids in paging.ids_from(self.redis, index, start, "+inf"))
        return scan_page(batches, limit, wanted.keeps, most)

    def with_prefix(self, prefix: str, cap: int = 10) -> prefixes.Matches:
        """Return this view's interactions starting with prefix (newest first, up to cap)."""
        return prefixes.with_prefix(self.redis, self.k.interactions, prefix, cap)

    def get(self, iid: str) -> dict | None:
        """Return one interaction's current version, or None when there is none."""
        raw = self.redis.get(self.k.interaction(iid))
        return json.loads(raw) if raw is not None else None

    def update(self, iid: str, change: Callable[[dict], dict], event: dict) -> dict | None:
        """Write change(current) as the interaction's new version; None when it is gone.

        The change is applied to the version read, and written only if that is still the
        current one (else read again): concurrent edits never lose each other. The audit
        event gets the changed fields' before and after values.
        """
        for _ in range(EDIT_TRIES):
            raw = self.redis.get(self.k.interaction(iid))
            if raw is None:
                return None
            before = json.loads(raw)
            after = _without_no_model({**change(before), "updated_at": now()})
            diff = _changes(before, after)
            if not diff:
                return before
            old_task, new_task = before["task_type"], after["task_type"]
            outcome = self._edit(
                keys=[
                    self.k.interaction_seq,
                    self.k.interactions,
                    self.k.task_counts,
                    self.k.rating_counts,
                    *self._versions,
                    self.k.interaction(iid),
                    self.k.interactions_of_task(old_task),
                    self.k.interactions_of_task(new_task),
                    self.k.interaction_events(iid),
                    self.k.usage,
                    self.k.interactions_of_model(before.get("model", "")),
                    self.k.interactions_of_model(after.get("model", "")),
                ],
                args=[
                    iid,
                    raw,
                    json.dumps(after),
                    old_task,
                    new_task,
                    rating_bucket(before["rating"]),
                    rating_bucket(after["rating"]),
                    json.dumps({**event, "created_at": after["updated_at"], "changes": diff}),
                    MAX_EVENTS,
                    self.budget.max_bytes,
                    before.get("model", ""),
                    after.get("model", ""),
                ],
            )
            budgets.raise_if_over(outcome)
            if outcome == -1:
                return None
            if outcome > 0:
                return after
        raise EditConflictError(iid)

    def delete(self, iid: str, event: dict) -> bool:
        """Delete the interaction (its version stays for the snapshots that hold it)."""
        for _ in range(EDIT_TRIES):
            raw = self.redis.get(self.k.interaction(iid))
            if raw is None:
                return False
            record = json.loads(raw)
            outcome = self._delete(
                keys=[
                    self.k.interaction_seq,
                    self.k.interactions,
                    self.k.task_counts,
                    self.k.rating_counts,
                    *self._versions,
                    self._deleted,
                    self.k.interaction(iid),
                    self.k.interactions_of_task(record["task_type"]),
                    self.k.interaction_events(iid),
                    self.k.usage,
                    self.k.interactions_of_model(record.get("model", "")),
                ],
                args=[
                    iid,
                    raw,
                    record["task_type"],
                    rating_bucket(record["rating"]),
                    json.dumps({**event, "created_at": now(), "changes": {}}),
                    MAX_EVENTS,
                    EVENTS_TTL,
                    record.get("model", ""),
                ],
            )
            if outcome != 0:
                return outcome > 0
        raise EditConflictError(iid)

    def events(self, iid: str, limit: int, after: str | None = None) -> tuple[list[dict], bool]:
        """Return up to limit audit events after the cursor, oldest first, and has_more."""
        start = f"({after}" if after else "-"
        rows = self.redis.xrange(
            self.k.interaction_events(iid), min=start, max="+", count=limit + 1
        )
        found = [
            {"id": eid, "object": "interaction.event", **json.loads(f["event"])} for eid, f in rows
        ]
        return found[:limit], len(found) > limit

    def has_events(self, iid: str) -> bool:
        """Return whether an audit stream of the interaction is kept (it outlives a delete)."""
        return bool(self.redis.exists(self.k.interaction_events(iid)))

    def snapshot_size(self, upto_seq: int) -> int:
        """Return how many interactions the snapshot at upto_seq holds (no row is read)."""
        index = [self.k.interactions, self._deleted, self._history]
        return int(self._size(keys=index, args=[upto_seq]))

    def snapshot_intact(self, upto_seq: int) -> bool:
        """Return whether no version the snapshot at upto_seq holds has been reclaimed."""
        ended, born = self.redis.hmget(self._reclaimed, ["ended_max", "born_min"])
        return ended is None or upto_seq >= int(ended) or upto_seq < int(born)

    def snapshot(self, upto_seq: int, batch: int = 500) -> Iterator[list[dict]]:
        """Return the batches of the interactions as they were at sequence upto_seq.

        Each interaction appears once, as the version current at upto_seq, in creation order;
        edits and deletes after upto_seq change nothing. SnapshotGoneError when it cannot be read.
        """
        if not self.snapshot_intact(upto_seq):
            raise SnapshotGoneError(upto_seq)
        return self._snapshot(upto_seq, batch)

    def _snapshot(self, upto_seq: int, batch: int) -> Iterator[list[dict]]:
        low: str = "-inf"
        while True:
            rows = self.redis.zrangebyscore(
                self.k.interactions, low, upto_seq, start=0, num=batch, withscores=True
            )
            high = int(rows[-1][1]) if len(rows) == batch else upto_seq
            ids = [iid for iid, _ in rows]
            flat = self._batch(
                keys=[*self._versions, *(self.k.interaction(i) for i in ids)],
                args=[upto_seq, low, high, *ids, *(int(seq) for _, seq in rows)],
            )
            found = sorted(zip(map(int, flat[0::2]), flat[1::2], strict=True))
            if found:
                yield [json.loads(body) for _, body in found]
            if len(rows) < batch:
                break
            low = f"({high}"
        if not self.snapshot_intact(upto_seq):  # reclaimed while it was read
            raise SnapshotGoneError(upto_seq)

    def reclaim(self, floor: int, limit: int = 1000) -> int:
        """Drop up to limit old versions no snapshot at or above floor holds; return how many."""
        names = [
            *self._versions[1:],
            self._deleted,
            self._reclaimed,
        ]
        return int(self._reclaim(keys=names, args=[floor, limit]))

    def versions_kept(self) -> int:
        """Return how many old versions are kept for snapshots."""
        return int(self.redis.zcard(self._ended))

    def stats(self) -> dict:
        """Return the count, the task distribution and the rating histogram."""
        pipe = self.redis.pipeline(transaction=False)  # reads must work at maxmemory too
        pipe.zcard(self.k.interactions).hgetall(self.k.task_counts).hgetall(self.k.rating_counts)
        count, tasks, ratings = pipe.execute()
        return {
            "count": int(count),
            "task_distribution": {k: int(v) for k, v in sorted(tasks.items())},
            "rating_histogram": {k: int(v) for k, v in sorted(ratings.items())},
        }


def _changes(before: dict, after: dict) -> dict:
    """Return {field: {before, after}} for every field that differs (not updated_at)."""
    fields = (set(before) | set(after)) - {"updated_at"}
    return {
        f: {"before": before.get(f), "after": after.get(f)}
        for f in sorted(fields)
        if before.get(f) != after.get(f)
    }


def _without_no_model(record: dict) -> dict:
    """Return record without a model key when it names none (null: no model)."""
    if "model" in record and record["model"] is None:
        return {k: v for k, v in record.items() if k != "model"}
    return record
