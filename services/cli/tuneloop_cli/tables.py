"""Tables that fit the terminal without cutting an id: columns are left out first.

Columns come in order of importance. The widest set of the first columns whose table fits
the width is printed whole (no cell cut or wrapped); the ids' columns never shrink. When
even the first column does not fit, the table is one id per line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text


@dataclass(frozen=True)
class Column:
    """A column's header, and whether its cells are ids (never cut)."""

    name: str
    is_id: bool = False


def build(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> Table:
    """A table of the columns (cells as plain text, ids never wrapped)."""
    table = Table()
    for column in columns:
        table.add_column(column.name, no_wrap=True, overflow="ignore" if column.is_id else "fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # data, never rich markup
    return table


def natural_width(console: Console, table: Table) -> int:
    """How wide the table is with no cell wrapped."""
    return Measurement.get(console, console.options.update(width=10_000), table).maximum


def fit(
    console: Console, columns: Sequence[Column], rows: Sequence[Sequence[str]]
) -> tuple[Table | None, list[str]]:
    """The table of as many leading columns as fit console.width, and the columns left out.

    None when not even the first column fits: print its cells one a line instead.
    """
    for keep in range(len(columns), 0, -1):
        table = build(columns[:keep], [row[:keep] for row in rows])
        if natural_width(console, table) <= console.width:
            return table, [column.name for column in columns[keep:]]
    return None, [column.name for column in columns[1:]]


def show(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[str]:
    """Print the rows as the widest table that fits; return the columns left out."""
    table, left_out = fit(console, columns, rows)
    if table is None:
        for row in rows:
            console.print(Text(row[0]), soft_wrap=True)  # a line too long wraps, uncut
    else:
        console.print(table)
    return left_out
