"""`tuneloop ingest FILE`: rated interactions from JSONL or CSV, in batches of 1,000."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from tuneloop_cli.bad_rows import Bad, summary
from tuneloop_cli.batches import FileLines, batches, idempotency_key, item_errors
from tuneloop_cli.client import Api, ApiError
from tuneloop_cli.output import err
from tuneloop_cli.rows import FIELDS, Mapping, Row, format_of, parse_mapping, read_rows


class BadRows(click.ClickException):
    """A batch held bad rows and --skip-invalid was not given: stop there."""

    def __init__(self, bad: list[Bad], first_line: int) -> None:
        self.bad = bad
        rows = len({b.line for b in bad})
        super().__init__(
            f"{rows} bad row(s) in the batch starting on line {first_line}; nothing of that "
            "batch was stored. Fix them (or pass --skip-invalid) and run the same command "
            "again: batches already stored are not stored twice."
        )


@dataclass
class Tally:
    """What an ingest did so far."""

    rows: int = 0
    stored: int = 0
    replayed: int = 0
    bad: list[Bad] = field(default_factory=list)


def post_batch(api: Api, rows: list[Row], skip_invalid: bool, tally: Tally) -> None:
    """Store one batch's good rows; record its bad rows (local or the API's) by line."""
    bad = [Bad(r.line, r.error, r.value) for r in rows if r.error is not None]
    good = [r for r in rows if r.item is not None]
    if bad and not skip_invalid:
        raise BadRows(bad + every(probe(api, good)), rows[0].line)
    while good:
        items = [r.item for r in good]
        headers = {"Idempotency-Key": idempotency_key(items, rows[0].line)}
        try:
            response = api.send(
                "POST", "/v1/interactions/batch", json={"items": items}, headers=headers
            )
        except ApiError as exc:
            rejected = item_errors(exc.errors, good) if exc.status == 422 else {}
            if not rejected:
                raise
            if not skip_invalid:
                raise BadRows(bad + every(rejected), rows[0].line) from None
            bad += every(rejected)
            good = [r for r in good if r.line not in rejected]
            continue
        count = response.json()["count"]
        if response.headers.get("Idempotent-Replayed") == "true":
            tally.replayed += count
        else:
            tally.stored += count
        break
    tally.bad += bad


def every(by_line: dict[int, list[Bad]]) -> list[Bad]:
    """The problems of every line."""
    return [problem for problems in by_line.values() for problem in problems]


def probe(api: Api, good: list[Row]) -> dict[int, list[Bad]]:
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
        return item_errors(exc.errors, good)
    raise RuntimeError("the gateway stored a batch holding an invalid item")  # never expected


def show_bad(bad: list[Bad]) -> None:
    """Print the bad rows grouped by problem: its offending values and line numbers."""
    for line in summary(bad):
        err.print(line, soft_wrap=True, markup=False, style="red" if line.startswith(" ") else "")


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


def run(api: Api, path: str, fmt: str, mapping: Mapping, skip_invalid: bool) -> Tally:
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
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Give every row this value of the field (a constant, not a column): --set rating=1.0. "
    "The value is taken whole, commas and '=' included.",
)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), help="Default: by extension.")
@click.option("--skip-invalid", is_flag=True, help="Report bad rows and store the others.")
@click.pass_obj
def ingest(
    api: Api,
    file: str,
    maps: tuple[str, ...],
    sets: tuple[str, ...],
    fmt: str | None,
    skip_invalid: bool,
) -> None:
    """Store the rated interactions of FILE (JSONL or CSV) in batches of 1,000.

    Each batch's Idempotency-Key is a hash of what it sends and the line it starts on, so
    running the command again (after a failure, say) never stores a row twice. Bad rows are
    reported grouped by problem, with the offending values and line numbers; without
    --skip-invalid the run stops at the first batch holding one and stores nothing of it.
    """
    try:
        mapping, fmt = parse_mapping(maps, sets), format_of(file, fmt)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    tally = run(api, file, fmt, mapping, skip_invalid)
    if tally.bad:
        show_bad(tally.bad)
    click.echo(
        f"stored {tally.stored:,} interactions from {tally.rows:,} rows"
        + (f"; {tally.replayed:,} were already stored by an earlier run" if tally.replayed else "")
        + (f"; skipped {len({b.line for b in tally.bad}):,} bad row(s)" if tally.bad else "")
    )
