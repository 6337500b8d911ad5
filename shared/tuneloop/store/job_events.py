"""A job's durable event log: events appended once per key, and a stage's steps with them."""

import json

from redis import Redis

from tuneloop.store import keys, scripts
from tuneloop.timeutil import now

MAX_STREAM_ID = f"{2**64 - 1}-{2**64 - 1}"
ADD_EVENT_ONCE = scripts.source("job_add_event_once")
RECORD_STEP_IF_HELD = scripts.source("job_record_step_if_held")


class JobEvents:
    """Each job's events as a Redis stream, with the set of keys already added (JobStore's part)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._event = redis.register_script(ADD_EVENT_ONCE)
        self._record_step = redis.register_script(RECORD_STEP_IF_HELD)

    def add_event(
        self,
        jid: str,
        key: str,
        type_: str,
        message: str,
        data: dict | None = None,
        level: str = "info",
    ) -> None:
        """Append an event once per key, so a redelivered stage adds no duplicate (and a stage
        that outlived its job's delete adds none)."""
        body = {
            "created_at": now(),
            "level": level,
            "type": type_,
            "message": message,
            "data": data or {},
        }
        names = [keys.job_events(jid), keys.job_event_keys(jid), keys.job(jid)]
        self._event(keys=names, args=[key, json.dumps(body)])

    def record_step_if_held(
        self, jid: str, stage: str, holder: str, step: str, message: str, data: dict
    ) -> int:
        """Write a step's metrics event (once) and count the step, in one round trip.

        Only while the job has not ended and holder holds the stage's lease: returns 1 when
        recorded, 2 when recorded and the job is pausing (stop here after a checkpoint), 0
        when the job has ended, -1 when the lease is not holder's.
        """
        body = {"created_at": now(), "level": "info", "type": "metrics", "message": message}
        return int(
            self._record_step(
                keys=[
                    keys.job(jid),
                    keys.lease(jid, stage),
                    keys.job_events(jid),
                    keys.job_event_keys(jid),
                    keys.job_steps(jid),
                ],
                args=[holder, step, json.dumps({**body, "data": data}), step],
            )
        )

    def events(
        self, jid: str, limit: int, after: str | None = None, newest_first: bool = False
    ) -> tuple[list[dict], bool]:
        """Return up to limit events after the cursor, oldest (or newest) first, and has_more."""
        if newest_first:
            end = f"({after}" if after else "+"
            rows = self.redis.xrevrange(keys.job_events(jid), max=end, min="-", count=limit + 1)
        elif after == MAX_STREAM_ID:
            return [], False
        else:
            start = f"({after}" if after else "-"
            rows = self.redis.xrange(keys.job_events(jid), min=start, max="+", count=limit + 1)
        events = [
            {"id": eid, "object": "fine_tuning.job.event", **json.loads(f["event"])}
            for eid, f in rows
        ]
        return events[:limit], len(events) > limit
