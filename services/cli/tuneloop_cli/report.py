"""`tuneloop report JOB`: the job's report as tables, as JSON, or as the lab's plain text."""

from __future__ import annotations

import click
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tuneloop.report import markdown
from tuneloop.report.format import p_value
from tuneloop.report_metrics import HEADLINE, metric_cells, num
from tuneloop_cli import lab_report
from tuneloop_cli.client import Api, part
from tuneloop_cli.output import out, print_json
from tuneloop_cli.short_ids import job_argument


def metrics_table(result: dict) -> Table:
    """Baseline vs fine-tuned per metric, each with its 95% interval, and the change."""
    base = result["baseline_metrics"]
    table = Table(title=f"Metrics ({base['n_cases']} evaluation cases, 95% CI)")
    for column in ("metric", "baseline", "95% CI", "fine-tuned", "95% CI", "change", "95% CI"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name in HEADLINE:
        if name not in base:
            continue
        table.add_row(name, *metric_cells(result, name))
    return table


def task_table(result: dict) -> Table:
    """Per expected task type: cases, accuracy and F1 of both agents."""
    base, tuned = result["baseline_metrics"], result["fine_tuned_metrics"]
    classes = result.get("classification") or {}
    f1 = {who: (classes.get(who) or {}).get("by_task_type") or {} for who in classes}
    table = Table(title="Per task type")
    for column in (
        "task type",
        "cases",
        "baseline acc",
        "fine-tuned acc",
        "baseline F1",
        "fine-tuned F1",
    ):
        table.add_column(column, justify="left" if column == "task type" else "right")
    for task in sorted(base.get("by_task_type") or {}):
        b, t = base["by_task_type"][task], (tuned.get("by_task_type") or {}).get(task) or {}
        table.add_row(
            Text(task),  # a label is data, never rich markup ("[/x]" would raise)
            str(b["n_cases"]),
            num(b.get("task_accuracy")),
            num(t.get("task_accuracy")),
            num((f1.get("baseline") or {}).get(task, {}).get("f1")),
            num((f1.get("fine_tuned") or {}).get(task, {}).get("f1")),
        )
    return table


def summary(job: dict) -> Text:
    """The job, its data and its training in a few lines."""
    result = job["result"]
    data = result.get("training_data") or {}
    lines = [f"Job {job['id']} ({job['kind']}) succeeded; model {result.get('model_id') or '-'}"]
    if models := result.get("models"):
        lines.append(f"Compares {models['baseline']} (baseline) with {models['fine_tuned']}")
    if data:
        lines.append(
            f"Data: {data['total_examples']} train, {data.get('validation_examples', 0)} "
            f"validation, {data.get('holdout_examples', 0)} held out; dropped "
            f"{data.get('dropped') or 'none'}"
        )
    if epochs := result.get("epochs"):
        last = epochs[-1]
        lines.append(
            f"Training: {len(epochs)} epochs (best {result.get('best_epoch')}"
            f"{', stopped early' if result.get('stopped_early') else ''}); last train loss "
            f"{num(last['train_loss'], 4)}, validation loss {num(last.get('valid_loss'), 4)}"
        )
    return Text("\n".join(lines))


def verdict(result: dict) -> RenderableType:
    """The significance verdict and the promotion gate's decision."""
    parts: list[RenderableType] = []
    if sig := result.get("significance"):
        mark = "conclusive" if sig["conclusive"] else "not conclusive"
        p = p_value((sig.get("mcnemar") or {}).get("p_value"))  # none: a likelihood evaluation
        parts.append(Text(f"Verdict ({mark}, McNemar {p}): {sig['verdict']}"))
    if cases := result.get("cases"):
        parts.append(Text(f"Cases: {lab_report.cases_line(cases)}"))
    if promotion := result.get("promotion"):
        table = Table(title=f"Promotion: {promotion['reason']}")
        for column in ("metric", "rule", "bound", "threshold", "observed", "passed"):
            table.add_column(column)
        for check in promotion.get("checks") or []:
            table.add_row(
                check["metric"],
                check["rule"],
                check["bound"],
                f"{check['threshold']:g}",
                num(check.get("observed")),
                "yes" if check["passed"] else "no",
            )
        parts.append(table)
    return Group(*parts)


def render(job: dict) -> Group:
    """Everything the report shows, in order."""
    result = job["result"]
    return Group(summary(job), metrics_table(result), task_table(result), verdict(result))


def events_of(api: Api, job_id: str) -> list[dict]:
    """Return the job's first 1,000 events, which the lab's report reads its counts from."""
    return api.get(f"/v1/jobs/{part(job_id)}/events", limit=1000)["data"]


@click.command()
@click.argument("job_id", callback=job_argument)
@click.option("--json", "as_json", is_flag=True, help="Print the job's result as JSON.")
@click.option("--lab", is_flag=True, help="Print the lab's plain-text report (as make demo does).")
@click.option(
    "--markdown",
    "as_markdown",
    is_flag=True,
    help="Print the report as Markdown (the pages' report.md download).",
)
@click.pass_obj
def report(api: Api, job_id: str, as_json: bool, lab: bool, as_markdown: bool) -> None:
    """Show a succeeded job's report: metrics with CIs, per task, verdict, promotion."""
    job = api.get(f"/v1/jobs/{part(job_id)}")
    if job["status"] != "succeeded" or not job.get("result"):
        error = job.get("error") or {}
        why = f": {error.get('code')}: {error.get('message')}" if error else ""
        raise click.ClickException(f"job {job_id} is {job['status']}{why}; it has no report")
    if as_json:
        print_json(job["result"])
    elif as_markdown:
        click.echo(markdown.render(job), nl=False)
    elif lab:
        click.echo(lab_report.render(job, events_of(api, job["id"])))
    else:
        out.print(render(job))
