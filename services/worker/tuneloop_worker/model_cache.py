"""Loaded agents kept per process, least recently used first out, bounded by bytes."""

from collections import OrderedDict
from collections.abc import Callable

from tuneloop.agent.protocol import Agent


class ModelCache:
    """An LRU of agents, each counted at the bytes its loader reports."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[Agent, int]] = OrderedDict()

    @property
    def bytes(self) -> int:
        """Return the bytes the cached agents account for."""
        return sum(size for _, size in self._items.values())

    def get(self, key: str, load: Callable[[], tuple[Agent, int] | None]) -> Agent | None:
        """Return the cached agent, or load it (None when load finds nothing)."""
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key][0]
        loaded = load()
        if loaded is None:
            return None
        agent, size = loaded
        if size <= self.max_bytes:
            self._items[key] = (agent, size)
            while self.bytes > self.max_bytes:
                self._items.popitem(last=False)
        return agent
