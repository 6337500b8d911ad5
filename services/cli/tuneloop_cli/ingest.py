"""`tuneloop ingest FILE`: rated interactions from JSONL or CSV, in batches of 1,000."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import click
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from tuneloop_cli.batches import FileLines, batches, idempotency_key, item_errors
from tuneloop_cli.client import Api, ApiError
from tuneloop_cli.output import err
from tuneloop_cli.rows import FIELDS, Row, format_of, parse_mapping, read_rows

SHOWN_BAD_ROWS = 100


class BadRows(click.ClickException):
    """A batch held bad rows and --skip-invalid was not given: stop there."""

    def __init__(self, bad: list[tuple[int, str]], first_line: int) -> None:
        self.bad = bad
        super().__init__(
            f"{len(bad)} bad row(s) in the batch starting on line {first_line}; nothing of that "
            "batch was stored. Fix them (or pass --skip-invalid) and run the same command "
            "again: batches already stored are not stored twice."
        )


@dataclass
class Tally:
    """What an ingest did so far."""

    rows: int = 0
    stored: int = 0
    replayed: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)


def post_batch(api: Api, rows: list[Row], skip_invalid: bool, tally: Tally) -> None:
    """Store one batch's good rows; record its bad rows (local or the API's) by line."""
    bad = [(r.line, r.error or "") for r in rows if r.error is not None]
    good = [r for r in rows if r.item is not None]
    if bad and not skip_invalid:
        raise BadRows(sorted(bad + list(probe(api, good).items())), rows[0].line)
    while good:
        items = [r.item for r in good]
        headers = {"Idempotency-Key": idempotency_key(items, rows[0].line)}
        try:
            response = api.send(
                "POST", "/v1/interactions/batch", json={"items": items}, headers=headers
            )
        except ApiError as exc:
            rejected = item_errors(exc.errors, [r.line for r in good]) if exc.status == 422 else {}
            if not rejected:
                raise
            if not skip_invalid:
                raise BadRows(sorted(bad + list(rejected.items())), rows[0].line) from None
            bad += rejected.items()
            good = [r for r in good if r.line not in rejected]
            continue
        count = response.json()["count"]
        if response.headers.get("Idempotent-Replayed") == "true":
            tally.replayed += count
        else:
            tally.stored += count
        break
    tally.bad += sorted(bad)


def probe(api: Api, good: list[Row]) -> dict[int, str]:
    """Have the API validate rows without storing any; return its errors by line.

    The batch endpoint stores all items or none, so a batch with one item that is always
    invalid (an empty object, last) stores nothing and names every other bad item.
    """
    if not good:
        return {}
    items = [r.item for r in good] + [{}]
    try:
        api.send("POST", "/v1/interactions/batch", json={"items": items})
    except ApiError as exc:
        if exc.status != 422:
            raise
        return item_errors(exc.errors, [r.line for r in good])
    raise RuntimeError("the gateway stored a batch holding an invalid item")  # never expected


def show_bad(bad: list[tuple[int, str]]) -> None:
    """Print the bad rows by line number (the first SHOWN_BAD_ROWS of them)."""
    for line, message in bad[:SHOWN_BAD_ROWS]:
        err.print(f"[red]line {line}[/red]: {escape(message)}", soft_wrap=True)
    if len(bad) > SHOWN_BAD_ROWS:
        err.print(f"… and {len(bad) - SHOWN_BAD_ROWS} more bad rows")


def progress_bar() -> Progress:
    """A progress bar over the file's bytes that shows rows and rows per second."""
    return Progress(
        TextColumn("[bold]ingest[/bold]"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:,} rows · {task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    )


def run(api: Api, path: str, fmt: str, mapping: dict[str, str], skip_invalid: bool) -> Tally:
    """Send the file's rows in batches with a progress bar; return the tally."""
    lines, tally, began = FileLines(path), Tally(), time.monotonic()
    with progress_bar() as progress:
        task = progress.add_task("ingest", total=lines.size or 1, rows=0, rate=0.0)
        try:
            for batch in batches(read_rows(lines, fmt, mapping)):
                post_batch(api, batch, skip_invalid, tally)
                tally.rows += len(batch)
                rate = tally.rows / max(time.monotonic() - began, 1e-9)
                progress.update(task, completed=lines.done, rows=tally.rows, rate=rate)
        except ValueError as exc:  # the CSV header lacks a mapped column
            raise click.ClickException(str(exc)) from None
        except BadRows as exc:
            progress.stop()
            show_bad(exc.bad)
            raise
        progress.update(task, completed=lines.size or 1)
    return tally


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="FIELD=COLUMN,...",
    help=f"Which column holds each field ({', '.join(FIELDS)}); unmapped fields use their own "
    "name. Other columns are ignored.",
)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), help="Default: by extension.")
@click.option("--skip-invalid", is_flag=True, help="Report bad rows and store the others.")
@click.pass_obj
def ingest(api: Api, file: str, maps: tuple[str, ...], fmt: str | None, skip_invalid: bool) -> None:
    """Store the rated interactions of FILE (JSONL or CSV) in batches of 1,000.

    Each batch's Idempotency-Key is a hash of what it sends and the line it starts on, so
    running the command again (after a failure, say) never stores a row twice. Bad rows are
    reported by line number; without --skip-invalid the run stops at the first batch holding
    one and stores nothing of that batch.
    """
    try:
        mapping, fmt = parse_mapping(maps), format_of(file, fmt)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    tally = run(api, file, fmt, mapping, skip_invalid)
    if tally.bad:
        show_bad(tally.bad)
    click.echo(
        f"stored {tally.stored:,} interactions from {tally.rows:,} rows"
        + (f"; {tally.replayed:,} were already stored by an earlier run" if tally.replayed else "")
        + (f"; skipped {len(tally.bad):,} bad row(s)" if tally.bad else "")
    )
