"""`tuneloop export JOB --format chat|prompt-completion|dpo`: a job's data for other trainers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

import click

from tuneloop_cli.client import Api, part
from tuneloop_cli.convert import group_by_input, no_pairs_reason, pairs_of, prompt_completion
from tuneloop_cli.output import err
from tuneloop_cli.short_ids import job_argument


def training_lines(api: Api, job_id: str) -> Iterator[str]:
    """Stream the job's training split as chat-format JSONL lines."""
    response = api.send("GET", f"/v1/jobs/{part(job_id)}/training_file", stream=True)
    with response:
        for line in response.iter_lines(delimiter=b"\n"):
            if line:
                yield line.decode("utf-8") + "\n"


def job_interactions(api: Api, job: dict) -> Iterator[dict]:
    """Yield the stored interactions the job could have seen: its task types, created by then."""
    for task_type in job["request"].get("task_types") or [None]:
        yield from interactions_until(api, task_type, job["created_at"])


def interactions_until(api: Api, task_type: str | None, until: int) -> Iterator[dict]:
    """Yield interactions (of one task type, or all) created at or before until, oldest first."""
    after = None
    while True:
        page = api.get("/v1/interactions", limit=1000, after=after, task_type=task_type)
        for item in page["data"]:
            if item["created_at"] > until:  # oldest first: every later one is newer
                return
            yield item
        if not page["has_more"]:
            return
        # A filtered page may be short, even empty: next_after says where the next one starts.
        after = page.get("next_after") or page["data"][-1]["id"]


def write_lines(lines: Iterator[str], output: IO[str]) -> int:
    """Write the lines; return how many."""
    count = 0
    for line in lines:
        output.write(line)
        count += 1
    return count


@click.command()
@click.argument("job_id", callback=job_argument)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["chat", "prompt-completion", "dpo"]),
    default="chat",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="Write here instead of stdout.",
)
@click.option(
    "--min-margin",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="dpo: the chosen output's rating must exceed the rejected one's by more.",
)
@click.pass_obj
def export(api: Api, job_id: str, fmt: str, output: IO[str], min_margin: float) -> None:
    """Export a job's training data as JSONL.

    chat: the training split as the API serves it. prompt-completion: the same rows as
    {prompt, completion}. dpo: {prompt, chosen, rejected} from the stored ratings: per input
    (case and spacing ignored), the best-rated output (rated at least the job's min_score)
    against the worst-rated one, among the interactions of the job's task types created up
    to the job's creation. Outputs rated several times count with their mean rating.
    """
    if fmt == "chat":
        count = write_lines(training_lines(api, job_id), output)
    elif fmt == "prompt-completion":
        count = write_lines(map(prompt_completion, training_lines(api, job_id)), output)
    else:
        job = api.get(f"/v1/jobs/{part(job_id)}")
        if job["kind"] != "fine_tuning":
            raise click.ClickException(f"job {job_id} is an evaluation job: it has no data")
        groups, min_score = group_by_input(job_interactions(api, job)), job["request"]["min_score"]
        pairs = list(pairs_of(groups, min_score, min_margin))
        if not pairs:
            why = no_pairs_reason(groups, min_score, min_margin)
            raise click.ClickException(f"no dpo pairs for job {job['id']}: {why}")
        count = write_lines((json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), output)
    err.print(f"wrote {count:,} {fmt} lines")
