"""Every script the store registers, as read from its .lua files, compiles in a real Redis."""

import pytest
from redis.commands.core import Script

from tuneloop.store import Store, ratelimit, scripts
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
    found = registered(store, SweepStore(redis))
    found["ratelimit.HIT_ONLY"] = redis.register_script(ratelimit.HIT_ONLY)  # the gateway's
    assert len({s.script for s in found.values()}) == len(scripts.script_names()), sorted(found)
    for name, script in found.items():
        assert "{{" not in script.script, f"{name}: a constant was not written in"
        assert redis.script_load(script.script) == script.sha, name
