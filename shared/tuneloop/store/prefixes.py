"""Ids that start with a prefix, as git and docker resolve a short id: within one index.

A project's index (its jobs, models, interactions …) is scanned with ZSCAN MATCH, so only
the ids of that project can ever match, and Redis filters the members before sending them.
The prefix is matched literally: glob characters in it are escaped. A scan visits every
member of the index, so it stops after MAX_VISITED of them (cut_short): past that a short id
cannot be told unique, and its callers say so rather than guess.
"""

import re
from dataclasses import dataclass

from redis import Redis

GLOB_CHARS = re.compile(r"([\\*?\[\]])")
SCAN_BATCH = 1000  # members ZSCAN visits per call
MAX_MATCHES = 1000  # past this many matches the count stops (a prefix that short says little)
MAX_VISITED = 200_000  # index members one lookup visits at most (about 0.2 s of Redis time)


@dataclass(frozen=True)
class Matches:
    """The first ids matching a prefix (newest first), and how many matched in all."""

    ids: list[str]
    total: int
    counted_all: bool = True  # False: more than MAX_MATCHES matched; total stopped there
    cut_short: bool = False  # True: the index holds more than MAX_VISITED, not all were seen

    @property
    def complete(self) -> bool:
        """Whether ids are every match, newest first (neither bound was reached)."""
        return self.counted_all and not self.cut_short

    @property
    def unique(self) -> str | None:
        """The one id matched, or None (no match, several, or a lookup cut short)."""
        return self.ids[0] if self.total == 1 and self.complete else None


def escape_glob(text: str) -> str:
    """Escape Redis's glob characters (* ? [ ] \\) so text matches only itself."""
    return GLOB_CHARS.sub(r"\\\1", text)


def with_prefix(redis: Redis, index: str, prefix: str, cap: int = 10) -> Matches:
    """Return up to cap members of the sorted set index starting with prefix, newest first
    (only when complete: past either bound they are some of the matches, in no order)."""
    found: list[tuple[float, str]] = []
    pattern, cursor, visited = escape_glob(prefix) + "*", 0, 0
    while True:
        cursor, batch = redis.zscan(index, cursor, match=pattern, count=SCAN_BATCH)
        visited += SCAN_BATCH  # COUNT is the members (hash buckets) one call visits, about
        found += [(score, member) for member, score in batch if member.startswith(prefix)]
        if cursor == 0 or len(found) > MAX_MATCHES or visited >= MAX_VISITED:
            break
    found.sort(reverse=True)
    counted_all = len(found) <= MAX_MATCHES
    total = min(len(found), MAX_MATCHES)
    cut_short = cursor != 0 and counted_all
    return Matches([member for _, member in found[:cap]], total, counted_all, cut_short)
