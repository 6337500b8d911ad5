"""How often each stage of a job started, and how many of those starts never ended.

Each start carries a token (the runner's holder id), so a command redis-py sends again
after a dropped connection counts once: a start is `HSETNX {stage}:open:{token}`, its end
removes that field. The counts stay in the job's deliveries hash, deleted with the job.
"""

from redis import Redis

from tuneloop.store import keys

# KEYS[1] deliveries hash; ARGV stage, token. Returns {starts, starts that never ended - 1}.
_START = """
local open = ARGV[1] .. ':open:' .. ARGV[2]
if redis.call('HSETNX', KEYS[1], open, 1) == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':started', 1)
end
local started = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':started'))
local ended = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':ended') or '0')
return {started, started - ended - 1}
"""
# The write Redis may refuse when full (HINCRBY) comes first, so a refusal changes nothing.
_END = """
local open = ARGV[1] .. ':open:' .. ARGV[2]
if redis.call('HEXISTS', KEYS[1], open) == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':ended', 1)
  redis.call('HDEL', KEYS[1], open)
end
return 0
"""


class DeliveryStore:
    """Starts and ends of job stages, counted once per token."""

    def __init__(self, redis: Redis) -> None:
        self._start = redis.register_script(_START)
        self._end = redis.register_script(_END)

    def start(self, jid: str, stage: str, token: str) -> tuple[int, int]:
        """Count a start of stage; return the starts so far and the earlier ones never ended."""
        started, crashes = self._start(keys=[keys.job_deliveries(jid)], args=[stage, token])
        return int(started), int(crashes)

    def end(self, jid: str, stage: str, token: str) -> None:
        """Count that the start with this token reached its end (success, failure or retry)."""
        self._end(keys=[keys.job_deliveries(jid)], args=[stage, token])
