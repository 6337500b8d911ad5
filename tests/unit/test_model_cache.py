"""The worker's per-process LRU of loaded agents, bounded by their saved bytes."""

import pytest

from tuneloop.agent.baseline import KeywordAgent
from tuneloop_worker.model_cache import ModelCache


class Loader:
    """A load function for one key that counts its calls."""

    def __init__(self, size: int | None, name: str = "m") -> None:
        self.size, self.calls = size, 0
        self.agent = KeywordAgent(name)

    def __call__(self):
        self.calls += 1
        return None if self.size is None else (self.agent, self.size)


def fill(cache: ModelCache, sizes: dict[str, int]) -> dict[str, Loader]:
    loaders = {key: Loader(size, key) for key, size in sizes.items()}
    for key, load in loaders.items():
        assert cache.get(key, load) is load.agent
    return loaders


def test_a_cached_key_is_loaded_once():
    cache, load = ModelCache(100), Loader(10)
    agents = [cache.get("a", load) for _ in range(5)]
    assert load.calls == 1
    assert all(agent is load.agent for agent in agents)
    assert cache.bytes == 10


def test_the_least_recently_used_agent_is_evicted_first():
    cache = ModelCache(100)
    loaders = fill(cache, {"a": 30, "b": 30, "c": 30})
    cache.get("a", loaders["a"])  # now b is the least recently used
    d = Loader(30, "d")
    assert cache.get("d", d) is d.agent
    assert cache.bytes == 90

    for key in ("a", "c", "d"):
        cache.get(key, loaders.get(key, d))
    assert [loaders[k].calls for k in "ac"] == [1, 1]
    assert d.calls == 1
    cache.get("b", loaders["b"])
    assert loaders["b"].calls == 2  # b was evicted and had to be loaded again


def test_eviction_frees_as_many_agents_as_the_new_one_needs():
    cache = ModelCache(100)
    loaders = fill(cache, {"a": 40, "b": 30, "c": 20})
    big = Loader(70, "big")
    cache.get("big", big)
    assert cache.bytes == 90  # a and b out (LRU order), c stays
    cache.get("c", loaders["c"])
    assert loaders["c"].calls == 1
    cache.get("a", loaders["a"])
    cache.get("b", loaders["b"])
    assert (loaders["a"].calls, loaders["b"].calls) == (2, 2)
    assert cache.bytes <= 100


def test_an_agent_of_exactly_the_limit_is_kept_alone():
    cache = ModelCache(100)
    fill(cache, {"a": 10, "b": 10})
    full = Loader(100, "full")
    cache.get("full", full)
    cache.get("full", full)
    assert full.calls == 1
    assert cache.bytes == 100


def test_an_agent_larger_than_the_limit_is_returned_but_not_kept():
    cache = ModelCache(100)
    loaders = fill(cache, {"a": 50})
    huge = Loader(101, "huge")
    assert cache.get("huge", huge) is huge.agent
    assert cache.get("huge", huge) is huge.agent
    assert huge.calls == 2
    assert cache.bytes == 50  # and nothing was evicted for it
    cache.get("a", loaders["a"])
    assert loaders["a"].calls == 1


def test_a_load_that_finds_nothing_gives_none_and_caches_nothing():
    cache, missing = ModelCache(100), Loader(None)
    assert cache.get("gone", missing) is None
    assert cache.get("gone", missing) is None
    assert missing.calls == 2
    assert cache.bytes == 0


@pytest.mark.parametrize("limit", [0, 1])
def test_a_tiny_cache_keeps_nothing_it_cannot_hold(limit):
    cache, load = ModelCache(limit), Loader(5)
    assert cache.get("a", load) is load.agent
    cache.get("a", load)
    assert load.calls == 2
    assert cache.bytes == 0
