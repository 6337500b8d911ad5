"""One page of a list filtered by id_prefix: the project's records whose ids start with it."""

from collections.abc import Callable
from typing import Protocol

from tuneloop.store import paging, prefixes


class Indexed(Protocol):
    """A project's store of one kind of record, with its ids findable by prefix."""

    def with_prefix(self, prefix: str, cap: int = 10) -> prefixes.Matches:
        """The ids starting with prefix, newest first."""


def page(
    store: Indexed,
    prefix: str,
    limit: int,
    read: Callable[[str], dict | None],
    keep: Callable[[dict], bool] = lambda _: True,
) -> tuple[list[dict], bool]:
    """Up to limit records whose ids start with prefix (newest first) that keep accepts."""
    found = store.with_prefix(prefix, cap=prefixes.MAX_MATCHES).ids
    records = ([record] for rid in found if (record := read(rid)) is not None)
    return paging.first_page(records, limit, keep)
