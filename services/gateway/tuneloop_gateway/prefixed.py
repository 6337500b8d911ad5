"""One page of a list filtered by id_prefix: the project's records whose ids start with it."""

from collections.abc import Callable
from typing import Protocol

from flask_smorest import abort

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
    found = found_or_422(store.with_prefix(prefix, cap=prefixes.MAX_MATCHES), prefix)
    records = ([record] for rid in found if (record := read(rid)) is not None)
    return paging.first_page(records, limit, keep)


def found_or_422(matches: prefixes.Matches, prefix: str) -> list[str]:
    """The ids matched, newest first; 422 naming id_prefix when a bound left them partial."""
    if not matches.counted_all:
        problem = f"matches more than {prefixes.MAX_MATCHES:,} ids: give more characters"
    elif matches.cut_short:
        problem = (
            f"cannot be looked up: the index holds more than {prefixes.MAX_VISITED:,} ids, "
            "more than one lookup searches; give the whole id"
        )
    else:
        return matches.ids
    message = f"id_prefix {prefix!r} {problem}"
    abort(422, message=f"invalid field id_prefix: {message}", errors={"id_prefix": [message]})
