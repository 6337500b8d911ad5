"""The store's scripts as read from their .lua files, in a real Redis: every one compiles,
and the job read makes the one stamp an ended job's kept answer is checked against."""

import pytest
from redis.commands.core import Script

from tuneloop.store import Store, projects, ratelimit, scripts
from tuneloop.store.answer_cache import JobRead
from tuneloop.store.sweeps import SweepStore

from .support import Stack

pytestmark = pytest.mark.integration


def registered(*owners: object) -> dict[str, Script]:
    """Every script the owners (and the parts they hold) registered, by owner and attribute."""
    found: dict[str, Script] = {}
    for owner in owners:
        parts = [owner, *(v for v in vars(owner).values() if hasattr(v, "__dict__"))]
        for part in parts:
            for name, value in vars(part).items():
                if isinstance(value, Script):
                    found[f"{type(part).__name__}.{name}"] = value
    return found


def test_every_script_file_compiles_in_redis_under_the_sha_it_is_called_by(stack: Stack) -> None:
    redis = stack.store.redis
    store = Store(redis)
    found = registered(store, SweepStore(redis), projects.Counting(redis))
    found["ratelimit.HIT_ONLY"] = redis.register_script(ratelimit.HIT_ONLY)  # the gateway's
    found["ratelimit.UNCOUNT"] = redis.register_script(ratelimit.UNCOUNT)  # the sign-in throttle
    assert len({s.script for s in found.values()}) == len(scripts.script_names()), sorted(found)
    for name, script in found.items():
        assert "{{" not in script.script, f"{name}: a constant was not written in"
        assert redis.script_load(script.script) == script.sha, name


def test_an_answer_is_kept_with_the_stamp_its_read_made_until_a_delivery_changes_it(
    stack: Stack,
) -> None:
    store = stack.store
    jid = store.jobs.create({"training_file": "none"}, 0, 4)["id"]  # stored, never queued
    try:
        active = store.jobs.read(jid)
        assert isinstance(active, JobRead) and active.stamp == ""  # nothing is kept for it
        store.jobs.fail(jid, "collect", "test", "ended by the test")
        ended = store.jobs.read(jid)
        assert isinstance(ended, JobRead) and ended.stamp == "0|"
        assert store.jobs.keep_document(jid, ended.stamp, "kept body")
        assert store.jobs.read(jid) == "kept body"
        store.deliveries.start(jid, "collect", "late-token")  # a late stage after the end
        stale = store.jobs.read(jid)
        assert isinstance(stale, JobRead) and stale.stamp != ended.stamp
    finally:
        store.jobs.delete(jid)
