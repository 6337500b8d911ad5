"""Follow a job live: a progress bar with its stage and latest losses, and its events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from tuneloop.report_metrics import num
from tuneloop_cli.client import Api, part
from tuneloop_cli.output import EXIT_JOB_CANCELLED, EXIT_JOB_FAILED, when

TERMINAL = ("succeeded", "failed", "cancelled")
PRINTED = ("stage.started", "stage.finished", "job.succeeded", "job.failed", "job.cancelled")


@dataclass
class Cursor:
    """How far a job's events have been read, and the latest epoch's losses."""

    after: str | None = None
    epoch: dict | None = None


def new_events(api: Api, job_id: str, cursor: Cursor) -> Iterator[dict]:
    """Yield the job's events after the cursor, every page, moving the cursor."""
    while True:
        page = api.get(f"/v1/jobs/{part(job_id)}/events", after=cursor.after, limit=1000)
        for event in page["data"]:
            cursor.after = event["id"]
            if event["type"] == "metrics" and "train_loss" in event["data"]:
                cursor.epoch = event["data"]
            yield event
        if not page["has_more"]:
            return


def losses(epoch: dict | None, n_epochs: object) -> str:
    """Describe the latest epoch's losses, or nothing before the first epoch."""
    if epoch is None:
        return ""
    of = f"/{n_epochs}" if isinstance(n_epochs, int) else ""
    return (
        f"epoch {epoch['epoch']}{of} · train {num(epoch['train_loss'], 4)}"
        f" · valid {num(epoch.get('valid_loss'), 4)}"
    )


def event_line(event: dict) -> str | None:
    """A line worth printing above the bar (stage changes, the end, warnings), or None."""
    if event["type"] in PRINTED or event["level"] in ("warning", "error"):
        return f"{when(event['created_at'])[11:]}  {event['message']}"
    return None


def describe(job: dict) -> str:
    """The bar's label: status and stage."""
    return f"{job['status']:<9} {job.get('stage') or '-'}"


def job_bar(console: Console) -> Progress:
    """The live display of one job."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[losses]}"),
        TimeElapsedColumn(),
        console=console,
    )


def watch(api: Api, job_id: str, console: Console, interval: float = 0.5) -> dict:
    """Show the job's progress until it ends; return the job as it ended."""
    cursor = Cursor()
    with job_bar(console) as bar:
        task = bar.add_task("", total=None, losses="")
        while True:
            job = api.get(f"/v1/jobs/{part(job_id)}")
            for event in new_events(api, job_id, cursor):  # read after the job: none is missed
                line = event_line(event)
                if line:
                    bar.console.print(line, markup=False, highlight=False)
            progress = job["progress"]
            bar.update(
                task,
                description=describe(job),
                total=progress["total"] or None,
                completed=progress["current"],
                losses=losses(cursor.epoch, (job.get("hyperparameters") or {}).get("n_epochs")),
            )
            if job["status"] in TERMINAL:
                return job
            time.sleep(interval)


def exit_code(job: dict) -> int:
    """0 for a succeeded job, EXIT_JOB_FAILED or EXIT_JOB_CANCELLED otherwise."""
    return {"succeeded": 0, "cancelled": EXIT_JOB_CANCELLED}.get(job["status"], EXIT_JOB_FAILED)


def outcome(job: dict) -> str:
    """One line on how the job ended."""
    if job["status"] == "succeeded":
        return f"job {job['id']} succeeded: model {job['model_id']} (tuneloop report {job['id']})"
    if job["status"] == "failed":
        error = job.get("error") or {}
        return (
            f"job {job['id']} failed in {error.get('stage')}: {error.get('code')}: "
            f"{error.get('message')}"
        )
    return f"job {job['id']} was cancelled"
