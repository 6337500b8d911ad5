"""Bad rows grouped by what is wrong: each problem once, its offending values and lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LINES_SHOWN = 5  # line numbers a group names before "and N more"
VALUES_SHOWN = 3  # distinct offending values a group quotes
VALUE_CHARS = 40  # a quoted value longer than this is shortened


@dataclass(frozen=True)
class Bad:
    """One problem of one row: the line, what is wrong, and the offending value if any."""

    line: int
    message: str
    value: str | None = None  # already quoted for display (repr of the text, or JSON)


@dataclass
class Group:
    """The rows with one problem: their distinct offending values and their lines."""

    message: str
    values: list[str]
    lines: list[int]


def quoted(value: object) -> str:
    """A value as a group quotes it: repr of a string (shortened), str of anything else."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def group(bad: Iterable[Bad]) -> list[Group]:
    """Group problems by message, in the order each first appears (lines ascending)."""
    groups: dict[str, Group] = {}
    for item in sorted(bad, key=lambda b: b.line):
        found = groups.setdefault(item.message, Group(item.message, [], []))
        if item.value is not None and item.value not in found.values:
            found.values.append(item.value)
        if item.line not in found.lines:
            found.lines.append(item.line)
    return list(groups.values())


def listed(words: list[str], more: int, noun: str) -> str:
    """ "a, b and c", or "a, b, c and 7 more" / "and 7 other {noun}"."""
    if more:
        return f"{', '.join(words)} and {more} {noun}"
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} and {words[-1]}"


def render(item: Group) -> str:
    """One group as a line: `field: problem — 'v1', 'v2' (lines 3, 17, 40 and 12 more)`."""
    lines = listed(
        [str(n) for n in item.lines[:LINES_SHOWN]], max(len(item.lines) - LINES_SHOWN, 0), "more"
    )
    where = f"line{'s' if len(item.lines) > 1 else ''} {lines}"
    if not item.values:
        return f"{item.message} ({where})"
    extra = len(item.values) - VALUES_SHOWN
    values = listed(item.values[:VALUES_SHOWN], max(extra, 0), "other values")
    return f"{item.message} — {values} ({where})"


def summary(bad: list[Bad]) -> list[str]:
    """The lines that report bad rows: a count, then one line per problem."""
    rows = len({b.line for b in bad})
    groups = group(bad)
    head = f"{rows:,} bad row{'s' if rows != 1 else ''}, {len(groups)} problem"
    return [head + ("s:" if len(groups) != 1 else ":"), *(f"  {render(g)}" for g in groups)]
