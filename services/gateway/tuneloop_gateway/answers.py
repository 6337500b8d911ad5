"""Answers kept per worker with the digest of the state they were rendered from.

A job's answer is a function of what its keys hold, and the store names that state by a
digest computed where the state is read (tuneloop.store.jobs.JobStore.read). A reader sends
the digest of the answer it holds; the store says "unchanged" only when the state still has
that digest, so a kept answer is never served for a state it was not rendered from.
"""

from collections import OrderedDict


class Answers:
    """The latest answer of up to size keys, with its digest; least recently used go first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[str, tuple[str, bytes]] = OrderedDict()

    def get(self, key: str) -> tuple[str, bytes] | None:
        """The digest and the answer kept for key, or None."""
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
        return kept

    def put(self, key: str, digest: str, body: bytes) -> None:
        """Keep body as key's answer for the state of digest (in place of an older one)."""
        self._kept[key] = (digest, body)
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def drop(self, key: str) -> None:
        """Forget key's answer."""
        self._kept.pop(key, None)
