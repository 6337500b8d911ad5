"""A job read for its answer carries the stamp its script made: one place makes a stamp."""

import json

from tuneloop import contracts
from tuneloop.store import job_record
from tuneloop.store.answer_cache import AnswerCache, JobRead

STAMP = "made-by-the-script"  # not what any Python formula would give


class OneAnswerRedis:
    """A Redis client whose every script returns one outcome."""

    def __init__(self, outcome: list) -> None:
        self.outcome = outcome

    def register_script(self, _script: str) -> object:
        return lambda keys, args: self.outcome


def test_a_reads_stamp_is_the_one_its_script_made() -> None:
    values = [None] * len(job_record.FIELDS)
    values[job_record.STATUS] = json.dumps(contracts.SUCCEEDED)
    flat = ["collect:started", "1", "collect:ended", "1"]
    cache = AnswerCache(OneAnswerRedis(["fields", values, 3, flat, "digest", STAMP]))
    found = cache.read("ftjob-1")
    assert isinstance(found, JobRead)
    assert found.stamp == STAMP
    assert found.digest == "digest" and found.done == 3 and found.status == contracts.SUCCEEDED
