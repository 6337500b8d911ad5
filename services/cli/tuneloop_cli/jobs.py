"""`tuneloop jobs ...`: create (and watch), list, show, cancel, pause, resume, events."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import click
from rich.table import Table
from rich.text import Text

from tuneloop_cli import tables
from tuneloop_cli.client import Api, part
from tuneloop_cli.output import err, out, print_json, when
from tuneloop_cli.request import auto_or, build_request, eval_cases
from tuneloop_cli.request import patience as parse_patience
from tuneloop_cli.short_ids import job_argument
from tuneloop_cli.watch import TERMINAL, Cursor, exit_code, new_events, outcome, watch

STATUSES = ("queued", "running", "pausing", "paused", "succeeded", "failed", "cancelled")
CLOSING = ("job.succeeded", "job.failed", "job.cancelled")
CANCEL_EVENT_POLLS = 4
# The list's columns, most wanted first: narrow terminals drop them from the end.
JOB_COLUMNS = tuple(
    tables.Column(name, is_id=name in ("id", "model"))
    for name in ("id", "status", "model", "kind", "progress", "created", "stage", "finished")
)


@click.group()
def jobs() -> None:
    """Fine-tuning and evaluation jobs."""


def _read_json(path: str | None) -> dict:
    """Read a request body from a JSON file, or {}."""
    if path is None:
        return {}
    with open(path, encoding="utf-8") as handle:
        body = json.load(handle)
    if not isinstance(body, dict):
        raise click.BadParameter("must hold a JSON object", param_hint="--request")
    return body


def _eval_set(path: str | None) -> list[dict] | None:
    """Read the eval set file, or None."""
    if path is None:
        return None
    with open(path, encoding="utf-8-sig") as handle:
        try:
            return eval_cases(handle)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--eval-set") from None


def _hyper(text: str | None, kind: type, name: str) -> object:
    """Parse an "auto"-or-number option."""
    return _parsed(lambda value: auto_or(value, kind), text, name)


def _parsed(parse: Callable[[str | None], object], text: str | None, name: str) -> object:
    """Parse an option's text; a ValueError becomes a usage error naming the option."""
    try:
        return parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


@jobs.command("create")
@click.option(
    "--request",
    "request_file",
    type=click.Path(exists=True, dir_okay=False),
    help="A JSON job request; the options below override its fields.",
)
@click.option("--min-score", type=click.FloatRange(0, 1), help="Drop examples rated below.")
@click.option("--task-type", "task_types", multiple=True, help="Keep only this task type.")
@click.option(
    "--synthetic/--no-synthetic",
    "include_synthetic",
    default=None,
    help="Add the lab's five synthetic examples (default: no).",
)
@click.option(
    "--holdout",
    "holdout_fraction",
    type=float,
    help="Fraction held out and evaluated (default 0.2 without --eval-set or --lab-eval-set).",
)
@click.option(
    "--lab-eval-set/--no-lab-eval-set",
    "lab_eval_set",
    default=None,
    help="Also evaluate on the lab's five test cases (default: no).",
)
@click.option("--epochs", help='n_epochs: a number or "auto".')
@click.option("--batch-size", help='A number or "auto".')
@click.option("--learning-rate", help='A number or "auto".')
@click.option("--seed", type=int)
@click.option(
    "--patience", help='Stop after this many epochs without a lower validation loss, or "none".'
)
@click.option("--suffix", help="Part of the model id: ft-{suffix}-{job}.")
@click.option(
    "--eval-set",
    type=click.Path(exists=True, dir_okay=False),
    help="JSONL of {input, expected_type, reference_output?}.",
)
@click.option("--out-of-scope-task", help="The task type of inputs that belong to no task.")
@click.option("--idempotency-key", help="Default: a new UUID (retries of this run reuse it).")
@click.option("--watch", "follow", is_flag=True, help="Show live progress until the job ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the created job as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the job id.")
@click.pass_obj
def create(
    api: Api,
    request_file: str | None,
    eval_set: str | None,
    epochs: str | None,
    batch_size: str | None,
    learning_rate: str | None,
    patience: str | None,
    idempotency_key: str | None,
    follow: bool,
    as_json: bool,
    quiet: bool,
    **options: object,
) -> None:
    """Create a fine-tuning job over the interactions stored now.

    With --watch, exit 0 when it succeeds, 3 when it fails, 4 when it is cancelled.
    """
    options.update(
        n_epochs=_hyper(epochs, int, "--epochs"),
        batch_size=_hyper(batch_size, int, "--batch-size"),
        learning_rate=_hyper(learning_rate, float, "--learning-rate"),
        early_stopping_patience=_parsed(parse_patience, patience, "--patience"),
        eval_set=_eval_set(eval_set),
    )
    body = build_request(_read_json(request_file), options)
    key = idempotency_key or str(uuid.uuid4())
    job = api.post("/v1/jobs", body, headers={"Idempotency-Key": key})
    if as_json:
        print_json(job)
    elif quiet:
        click.echo(job["id"])
    else:
        err.print(f"created job {job['id']} ({job['status']})")
    if follow:
        _watch_and_exit(api, job["id"])


def _watch_and_exit(api: Api, job_id: str) -> None:
    """Watch the job to its end, say how it ended, exit with its code."""
    try:
        job = watch(api, job_id, err)
    except KeyboardInterrupt:
        err.print(f"stopped watching; the job goes on: tuneloop jobs show {job_id}")
        raise click.exceptions.Exit(130) from None
    err.print(outcome(job), markup=False)
    raise click.exceptions.Exit(exit_code(job))


@jobs.command("watch")
@click.argument("job_id", callback=job_argument)
@click.pass_obj
def watch_job(api: Api, job_id: str) -> None:
    """Show a job's live progress until it ends (exit 0, or 3 failed, 4 cancelled)."""
    _watch_and_exit(api, job_id)


@jobs.command("list")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--kind", type=click.Choice(["fine_tuning", "evaluation"]))
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option(
    "--after", callback=job_argument, help="The last job id of the page before (or its prefix)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
@click.pass_obj
def list_jobs(
    api: Api, status: str | None, kind: str | None, limit: int, after: str | None, as_json: bool
) -> None:
    """List jobs, newest first."""
    page = api.get("/v1/jobs", status=status, kind=kind, limit=limit, after=after)
    if as_json:
        print_json(page)
        return
    rows = [
        [
            job["id"],
            job["status"],
            job.get("model_id") or "-",
            job["kind"],
            "{current}/{total} ({percent:.0f}%)".format(**job["progress"]),
            when(job["created_at"]),
            job.get("stage") or "-",
            when(job.get("finished_at")),
        ]
        for job in page["data"]
    ]
    left_out = tables.show(out, JOB_COLUMNS, rows)
    if left_out and rows:
        err.print(f"left out to fit {out.width} columns: {', '.join(left_out)} (--json has all)")
    if page["has_more"]:
        err.print(f"more: tuneloop jobs list --after {page['data'][-1]['id']}")


@jobs.command("show")
@click.argument("job_id", callback=job_argument)
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
@click.pass_obj
def show(api: Api, job_id: str, as_json: bool) -> None:
    """Show one job: status, stage, progress, times, request, error."""
    job = api.get(f"/v1/jobs/{part(job_id)}")
    if as_json:
        print_json(job)
        return
    table = Table(show_header=False, box=None)
    progress = job["progress"]
    rows = {
        "id": job["id"],
        "kind": job["kind"],
        "status": job["status"],
        "stage": job.get("stage") or "-",
        "progress": f"{progress['current']}/{progress['total']} ({progress['percent']:.0f}%)",
        "created": when(job["created_at"]),
        "started": when(job.get("started_at")),
        "finished": when(job.get("finished_at")),
        "model": job.get("model_id") or "-",
        "hyperparameters": json.dumps(job.get("hyperparameters") or {}),
        "request": json.dumps(
            {k: v for k, v in job["request"].items() if k != "hyperparameters"},
            ensure_ascii=False,  # labels as they are written
        ),
    }
    if job.get("error"):
        rows["error"] = "{code} in {stage}: {message}".format(**job["error"])
    for name, value in rows.items():
        table.add_row(f"[bold]{name}[/bold]", Text(str(value)))  # labels are not markup
    out.print(table)


@jobs.command("cancel")
@click.argument("job_id", callback=job_argument)
@click.pass_obj
def cancel(api: Api, job_id: str) -> None:
    """Cancel a job: stages not started never run; fine-tuning stops at its next epoch."""
    job = api.post(f"/v1/jobs/{part(job_id)}/cancel", None)
    click.echo(f"job {job['id']} is {job['status']}")


@jobs.command("pause")
@click.argument("job_id", callback=job_argument)
@click.pass_obj
def pause(api: Api, job_id: str) -> None:
    """Pause a job: a queued one at once; a running one at its next stage, epoch or step."""
    job = api.post(f"/v1/jobs/{part(job_id)}/pause", None)
    click.echo(f"job {job['id']} is {job['status']}")


@jobs.command("resume")
@click.argument("job_id", callback=job_argument)
@click.pass_obj
def resume(api: Api, job_id: str) -> None:
    """Resume a paused job from where it paused (a pausing one goes on running)."""
    job = api.post(f"/v1/jobs/{part(job_id)}/resume", None)
    click.echo(f"job {job['id']} is {job['status']}")


@jobs.command("events")
@click.argument("job_id", callback=job_argument)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until the job ends.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
@click.option(
    "--interval",
    type=click.FloatRange(0.05),
    default=0.5,
    show_default=True,
    help="Seconds between polls with --follow.",
)
@click.pass_obj
def events(api: Api, job_id: str, follow: bool, as_json: bool, interval: float) -> None:
    """Print a job's events, oldest first (with --follow, until the job ends)."""
    cursor, closed, polls_since_end = Cursor(), False, 0
    while True:
        ended = follow and api.get(f"/v1/jobs/{part(job_id)}")["status"] in TERMINAL
        for event in new_events(api, job_id, cursor):  # read after the status: none is missed
            closed = closed or event["type"] in CLOSING
            if as_json:
                click.echo(json.dumps(event, ensure_ascii=False, sort_keys=True))
            else:
                click.echo(
                    f"{when(event['created_at'])}  {event['level']:<7} {event['type']:<15} "
                    f"{event['message']}"
                )
        polls_since_end += ended
        # A cancel writes its event just after the status: wait a few polls for it.
        if not follow or closed or polls_since_end > CANCEL_EVENT_POLLS:
            return
        time.sleep(interval)
