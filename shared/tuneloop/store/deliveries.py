"""How often each stage of a job started, and how many of those starts never ended.

Each start carries a token (the runner's holder id), so a command redis-py sends again
after a dropped connection counts once: a start is `HSETNX {stage}:open:{token}`, its end
removes that field. The counts stay in the job's deliveries hash, deleted with the job.
"""

from redis import Redis

from tuneloop.store import keys, scripts

START = scripts.source("delivery_start")
END = scripts.source("delivery_end")


class DeliveryStore:
    """Starts and ends of job stages, counted once per token."""

    def __init__(self, redis: Redis) -> None:
        self._start = redis.register_script(START)
        self._end = redis.register_script(END)

    def start(self, jid: str, stage: str, token: str) -> tuple[int, int]:
        """Count a start of stage; return the starts so far and the earlier ones never ended.

        Nothing is counted for a job that is gone: (0, -1).
        """
        names = [keys.job_deliveries(jid), keys.job(jid)]
        started, crashes = self._start(keys=names, args=[stage, token])
        return int(started), int(crashes)

    def end(self, jid: str, stage: str, token: str) -> None:
        """Count that the start with this token reached its end (success, failure or retry)."""
        self._end(keys=[keys.job_deliveries(jid)], args=[stage, token])
