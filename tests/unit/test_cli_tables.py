"""Lists that fit the terminal: columns are left out, never an id cut."""

import io

from rich.console import Console
from tuneloop_cli import tables
from tuneloop_cli.jobs import JOB_COLUMNS

JOB = "ftjob-d92cac8e0f6b4d5a9c1e2f3a"  # 30 characters, as minted
MODEL = "ft-banking77-d92cac8e0f6b"
ROW = [JOB, "succeeded", MODEL, "fine_tuning", "12/12 (100%)", "2026-12-07 12:00:00"]
ROW += ["evaluate", "2026-12-07 12:05:00"]


def printed(width: int, rows: list[list[str]]) -> tuple[str, list[str]]:
    """What show prints at width, and the columns it left out."""
    console = Console(file=io.StringIO(), width=width, color_system=None)
    left_out = tables.show(console, JOB_COLUMNS, rows)
    return console.file.getvalue(), left_out


def test_at_80_and_120_columns_every_id_is_printed_whole_on_one_line() -> None:
    for width in (80, 120):
        text, left_out = printed(width, [ROW, ROW])
        lines = text.splitlines()
        assert sum(JOB in line for line in lines) == 2, text
        assert sum(MODEL in line for line in lines) == 2, text
        assert max(map(len, lines)) <= width, text
        assert left_out and left_out == [c.name for c in JOB_COLUMNS][-len(left_out) :]


def test_a_wide_terminal_shows_every_column() -> None:
    text, left_out = printed(200, [ROW])
    assert left_out == [] and "2026-12-07 12:05:00" in text


def test_narrower_than_the_id_column_prints_one_whole_id_a_line() -> None:
    text, left_out = printed(20, [ROW])
    assert JOB in text.replace("\n", ""), text
    assert left_out == [c.name for c in JOB_COLUMNS[1:]]
