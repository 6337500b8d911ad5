"""Ids that start with a prefix, as git and docker resolve a short id: within one index.

A project's index (its jobs, models, interactions …) is scanned with ZSCAN MATCH, so only
the ids of that project can ever match, and Redis filters the members before sending them.
The prefix is matched literally: glob characters in it are escaped.
"""

import re
from dataclasses import dataclass

from redis import Redis

GLOB_CHARS = re.compile(r"([\\*?\[\]])")
SCAN_BATCH = 1000  # members ZSCAN visits per call
MAX_MATCHES = 1000  # past this many matches the count stops (a prefix that short says little)


@dataclass(frozen=True)
class Matches:
    """The first ids matching a prefix (newest first), and how many matched in all."""

    ids: list[str]
    total: int
    counted_all: bool = True  # False: more than MAX_MATCHES matched; total stopped there

    @property
    def unique(self) -> str | None:
        """The one id matched, or None (no match, or several)."""
        return self.ids[0] if self.total == 1 else None


def escape_glob(text: str) -> str:
    """Escape Redis's glob characters (* ? [ ] \\) so text matches only itself."""
    return GLOB_CHARS.sub(r"\\\1", text)


def with_prefix(redis: Redis, index: str, prefix: str, cap: int = 10) -> Matches:
    """Return up to cap members of the sorted set index starting with prefix, newest first."""
    found: list[tuple[float, str]] = []
    pattern = escape_glob(prefix) + "*"
    for member, score in redis.zscan_iter(index, match=pattern, count=SCAN_BATCH):
        if member.startswith(prefix):  # the pattern already says so; kept as a guard
            found.append((score, member))
        if len(found) > MAX_MATCHES:
            break
    found.sort(reverse=True)
    counted_all = len(found) <= MAX_MATCHES
    total = min(len(found), MAX_MATCHES)
    return Matches([member for _, member in found[:cap]], total, counted_all)
