"""What the sweeper reads and writes: its election, active jobs, messages, leases, counts."""

import time

from redis import Redis

from tuneloop import contracts
from tuneloop.store import keys, scripts

ELECT = scripts.source("sweeper_elect")


class SweepStore:
    """The sweeper's view of Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._elect = redis.register_script(ELECT)

    def elect(self, holder: str, ttl_ms: int) -> bool:
        """Hold the sweeper's seat for ttl ms; return whether holder has it."""
        return self._elect(keys=[keys.SWEEPER], args=[holder, ttl_ms]) == 1

    def active_jobs(self) -> list[str]:
        """Return the ids of the jobs a message or a runner must carry on (queued or running;
        not a paused one, which waits for its resume)."""
        pipe = self.redis.pipeline(transaction=False)
        for status in contracts.RUNNABLE:
            pipe.zrange(keys.job_status_index(status), 0, -1)
        return [jid for ids in pipe.execute() for jid in ids]

    def pausing_jobs(self) -> list[str]:
        """Return the ids of the pausing jobs (their runner settles them paused, or it died)."""
        return list(self.redis.zrange(keys.job_status_index(contracts.PAUSING), 0, -1))

    def with_messages(self, jids: list[str], queues: list[str]) -> set[str]:
        """Return the jobs some message names: waiting in a queue, or delivered and unacked."""
        pipe = self.redis.pipeline(transaction=False)
        for queue in queues:
            pipe.lrange(queue, 0, -1)
        pipe.hvals(keys.KOMBU_UNACKED)
        messages = "\n".join(m for batch in pipe.execute() for m in batch)
        return {jid for jid in jids if jid in messages}

    def leased(self, jids: list[str]) -> set[str]:
        """Return the jobs a runner holds a stage lease of."""
        pipe = self.redis.pipeline(transaction=False)
        for jid in jids:
            for stage in contracts.STAGES:
                pipe.exists(keys.lease(jid, stage))
        held = pipe.execute()
        n = len(contracts.STAGES)
        return {jid for i, jid in enumerate(jids) if any(held[i * n : (i + 1) * n])}

    def suspects(self) -> dict[str, float]:
        """Return the jobs seen orphaned, with when they were first seen so (epoch seconds)."""
        return {jid: float(t) for jid, t in self.redis.hgetall(keys.SWEEP_SUSPECTS).items()}

    def suspect(self, jids: list[str], now: float | None = None) -> None:
        """Note jobs seen orphaned now, keeping the first time for those seen before."""
        now = time.time() if now is None else now
        pipe = self.redis.pipeline(transaction=False)
        for jid in jids:
            pipe.hsetnx(keys.SWEEP_SUSPECTS, jid, now)
        pipe.execute()

    def clear(self, jids: list[str]) -> None:
        """Forget jobs as suspects."""
        if jids:
            self.redis.hdel(keys.SWEEP_SUSPECTS, *jids)

    def count_redrive(self, jid: str, stage: str) -> int:
        """Count one more re-drive of the job's stage; return how many there have been."""
        return int(self.redis.hincrby(keys.job_deliveries(jid), f"{stage}:redriven", 1))
