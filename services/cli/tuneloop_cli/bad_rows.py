"""Bad rows grouped by what is wrong: each problem once, its offending values and lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

LINES_SHOWN = 5  # line numbers a group names before "and N more"
VALUES_SHOWN = 3  # distinct offending values a group quotes
VALUE_CHARS = 40  # a quoted value longer than this is shortened
VALUES_COUNTED = 10_000  # distinct values a group counts; past this it says "at least"


@dataclass(frozen=True)
class Bad:
    """One problem of one row: the line, what is wrong, and the offending value if any."""

    line: int
    message: str
    value: str | None = None  # already quoted for display (repr of the text, or JSON)


@dataclass
class Group:
    """The rows with one problem: how many, their first lines and first distinct values."""

    message: str
    values: list[str] = field(default_factory=list)  # the first VALUES_SHOWN distinct ones
    lines: list[int] = field(default_factory=list)  # the first LINES_SHOWN lines
    rows: int = 0  # lines with the problem
    last: int | None = None  # the last line counted
    seen: set[str] = field(default_factory=set, repr=False)  # distinct values, capped
    capped: bool = False  # a value came that seen had no room for

    def add(self, item: Bad) -> None:
        """Count one problem; problems come in line order, so a repeated line is the last."""
        if item.value is not None and item.value not in self.seen:
            if len(self.seen) < VALUES_COUNTED:
                self.seen.add(item.value)
            else:
                self.capped = True
            if len(self.values) < VALUES_SHOWN:
                self.values.append(item.value)
        if self.last == item.line:
            return
        self.rows += 1
        self.last = item.line
        if len(self.lines) < LINES_SHOWN:
            self.lines.append(item.line)


def quoted(value: object) -> str:
    """A value as a group quotes it: repr of a string (shortened), str of anything else."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def group(bad: Iterable[Bad]) -> list[Group]:
    """Group problems by message, in the order each first appears (lines ascending)."""
    groups: dict[str, Group] = {}
    for item in sorted(bad, key=lambda b: b.line):
        found = groups.get(item.message)
        if found is None:
            found = groups[item.message] = Group(item.message)
        found.add(item)
    return list(groups.values())


def listed(words: list[str], more: int, noun: str, at_least: str = "") -> str:
    """ "a, b and c", or "a, b, c and 7 more" / "and 7 other values" / "and at least 7 …"."""
    if more:
        return f"{', '.join(words)} and {at_least}{more} {noun}"
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} and {words[-1]}"


def render(item: Group) -> str:
    """One group as a line: `field: problem — 'v1', 'v2' (lines 3, 17, 40 and 12 more)`."""
    lines = listed([str(n) for n in item.lines], item.rows - len(item.lines), "more")
    where = f"line{'s' if item.rows > 1 else ''} {lines}"
    if not item.values:
        return f"{item.message} ({where})"
    extra = len(item.seen) - len(item.values)
    at_least = "at least " if item.capped else ""
    values = listed(item.values, extra, "other values", at_least)
    return f"{item.message} — {values} ({where})"


def summary(bad: list[Bad]) -> list[str]:
    """The lines that report bad rows: a count, then one line per problem."""
    rows = len({b.line for b in bad})
    groups = group(bad)
    head = f"{rows:,} bad row{'s' if rows != 1 else ''}, {len(groups)} problem"
    return [head + ("s:" if len(groups) != 1 else ":"), *(f"  {render(g)}" for g in groups)]
