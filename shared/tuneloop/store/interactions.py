"""Rated interactions: stored atomically, listed by cursor, read as a snapshot."""

import json
import uuid
from collections.abc import Iterator, Sequence

from redis import Redis

from tuneloop.store import keys, paging
from tuneloop.timeutil import now

# One script, so a job's snapshot sequence never sees half a batch or a gap.
# KEYS: the sequence, the index, the two statistics hashes, then per item its record and its
# task's index. ARGV per item: id, task type, rating bucket, record.
_ADD_SCRIPT = """
local n = #ARGV / 4
local seq = redis.call('INCRBY', KEYS[1], n) - n
for i = 0, n - 1 do
  local id, task, bucket, body = ARGV[1 + 4*i], ARGV[2 + 4*i], ARGV[3 + 4*i], ARGV[4 + 4*i]
  seq = seq + 1
  redis.call('SET', KEYS[5 + 2*i], body)
  redis.call('ZADD', KEYS[2], seq, id)
  redis.call('ZADD', KEYS[6 + 2*i], seq, id)
  redis.call('HINCRBY', KEYS[3], task, 1)
  redis.call('HINCRBY', KEYS[4], bucket, 1)
end
return seq
"""
_ADD_KEYS = [keys.INTERACTION_SEQ, keys.INTERACTIONS, keys.TASK_COUNTS, keys.RATING_COUNTS]


def rating_bucket(rating: float) -> str:
    """Return the histogram bucket of a rating: ten buckets of width 0.1."""
    low = min(int(rating * 10), 9) / 10
    return f"{low:.1f}-{low + 0.1:.1f}"


class InteractionStore:
    """Interactions, their per-task index and running statistics."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._add = redis.register_script(_ADD_SCRIPT)

    def add_many(self, items: Sequence[dict]) -> list[dict]:
        """Store validated interactions in one atomic step: all of them or none."""
        created, records, item_keys, args = now(), [], [], []
        for item in items:
            record = {
                "id": f"int_{uuid.uuid4().hex[:24]}",
                "object": "interaction",
                "created_at": created,
                "source": "human",
                "metadata": {},
                **item,
            }
            records.append(record)
            item_keys += [
                keys.interaction(record["id"]),
                keys.interactions_of_task(item["task_type"]),
            ]
            args += [record["id"], record["task_type"], rating_bucket(record["rating"])]
            args.append(json.dumps(record))
        self._add(keys=[*_ADD_KEYS, *item_keys], args=args)
        return records

    def last_seq(self) -> int:
        """Return the sequence number of the newest interaction (0 when none)."""
        return int(self.redis.get(keys.INTERACTION_SEQ) or 0)

    def count(self) -> int:
        """Return how many interactions are stored."""
        return int(self.redis.zcard(keys.INTERACTIONS))

    def get_many(self, ids: Sequence[str]) -> list[dict]:
        """Return the records of ids, skipping any that are missing."""
        if not ids:
            return []
        raw = self.redis.mget([keys.interaction(i) for i in ids])
        return [json.loads(r) for r in raw if r is not None]

    def page(
        self,
        limit: int,
        after: str | None = None,
        task_type: str | None = None,
        min_rating: float | None = None,
    ) -> tuple[list[dict], bool]:
        """Return up to limit interactions after the cursor, oldest first, and has_more."""
        index = keys.interactions_of_task(task_type) if task_type else keys.INTERACTIONS
        start = paging.start_after(self.redis, keys.INTERACTIONS, after)
        batches = (self.get_many(ids) for ids in paging.ids_from(self.redis, index, start, "+inf"))
        return paging.first_page(
            batches, limit, lambda r: min_rating is None or r["rating"] >= min_rating
        )

    def snapshot_size(self, upto_seq: int) -> int:
        """Return how many interactions existed at sequence upto_seq (one O(log n) count)."""
        return int(self.redis.zcount(keys.INTERACTIONS, "-inf", upto_seq))

    def snapshot(self, upto_seq: int, batch: int = 500) -> Iterator[list[dict]]:
        """Yield, in bounded batches, the interactions that existed at sequence upto_seq."""
        for ids in paging.ids_from(self.redis, keys.INTERACTIONS, "-inf", upto_seq, batch=batch):
            yield self.get_many(ids)

    def stats(self) -> dict:
        """Return the count, the task distribution and the rating histogram."""
        pipe = self.redis.pipeline(transaction=False)  # reads must work at maxmemory too
        pipe.zcard(keys.INTERACTIONS).hgetall(keys.TASK_COUNTS).hgetall(keys.RATING_COUNTS)
        count, tasks, ratings = pipe.execute()
        return {
            "count": int(count),
            "task_distribution": {k: int(v) for k, v in sorted(tasks.items())},
            "rating_histogram": {k: int(v) for k, v in sorted(ratings.items())},
        }
