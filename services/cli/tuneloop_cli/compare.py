"""`tuneloop jobs compare A B`: two finished jobs side by side, as GET /v1/jobs/{a}/compare."""

from __future__ import annotations

import json

import click
from rich.table import Table
from rich.text import Text

from tuneloop.report_metrics import interval, num, signed
from tuneloop_cli.client import Api, part
from tuneloop_cli.output import out, print_json
from tuneloop_cli.short_ids import job_argument


@click.command("compare")
@click.argument("job_a", callback=job_argument)
@click.argument("job_b", callback=job_argument)
@click.option("--json", "as_json", is_flag=True, help="Print the API's answer as JSON.")
@click.option(
    "--cases",
    "shown",
    type=click.IntRange(0),
    default=10,
    show_default=True,
    help="Cases to print per list (one got right, the other wrong).",
)
@click.pass_obj
def compare(api: Api, job_a: str, job_b: str, as_json: bool, shown: int) -> None:
    """Compare two finished jobs: losses, configuration, metrics (B minus A), tasks, cases."""
    found = api.get(f"/v1/jobs/{part(job_a)}/compare", **{"with": job_b})
    if as_json:
        print_json(found)
        return
    a, b = found["a"], found["b"]
    out.print(Text(f"A: {a['id']} ({a['status']}, model {a.get('model_id') or '-'})"))
    out.print(Text(f"B: {b['id']} ({b['status']}, model {b.get('model_id') or '-'})"))
    out.print(Text("Every change is B minus A."))
    for table in (losses(found), config(found), metrics(found), tasks(found)):
        out.print(table)
    for name, text in found["intervals"]["methods"].items():
        out.print(Text(f"{name}: {text}"))
    cases(found, shown)


def losses(found: dict) -> Table:
    """Each epoch's train and validation loss of both jobs."""
    curves = {side: {e["epoch"]: e for e in found["loss_curves"][side]} for side in ("a", "b")}
    table = Table(title="Loss per epoch")
    for column in ("epoch", "A train", "A valid", "B train", "B valid"):
        table.add_column(column, justify="right")
    for epoch in sorted(curves["a"].keys() | curves["b"].keys()):
        ea, eb = curves["a"].get(epoch, {}), curves["b"].get(epoch, {})
        cells = [num(e.get(f), 4) for e in (ea, eb) for f in ("train_loss", "valid_loss")]
        table.add_row(str(epoch), *cells)
    return table


def config(found: dict) -> Table:
    """The configuration values that differ, by dotted path."""
    table = Table(title="Configuration differences")
    for column in ("setting", "A", "B"):
        table.add_column(column)
    for row in found["config_diff"]:
        a, b = (
            "(not set)" if row["missing"] == side else json.dumps(row[side], ensure_ascii=False)
            for side in ("a", "b")
        )
        table.add_row(Text(row["path"]), Text(a), Text(b))
    return table


def metrics(found: dict) -> Table:
    """Each metric of both fine-tuned agents, the change and its 95% interval."""
    table = Table(title="Metrics of the fine-tuned agents (95% CI of the change)")
    for column in ("metric", "A", "B", "change", "95% CI", "interval"):
        table.add_column(column, justify="left" if column in ("metric", "interval") else "right")
    for row in found["metrics"]:
        table.add_row(
            row["name"],
            num(row["a"]),
            num(row["b"]),
            signed(row["delta"]),
            interval(row["ci95"]),
            row["method"] or "-",
        )
    return table


def tasks(found: dict) -> Table:
    """Each task type's task accuracy in both jobs and the change."""
    table = Table(title="Per task type (task accuracy)")
    for column in ("task type", "A", "B", "change", "cases A/B"):
        table.add_column(column, justify="left" if column == "task type" else "right")
    for row in found["tasks"]:
        table.add_row(
            Text(row["task_type"]),
            num(row["a"]),
            num(row["b"]),
            signed(row["delta"]),
            f"{row['a_cases']}/{row['b_cases']}",
        )
    return table


def cases(found: dict, shown: int) -> None:
    """Print how the cases were matched and the cases one job got right and the other wrong."""
    c = found["cases"]
    pairing = "paired" if c["paired"] else "not paired"
    out.print(Text(f"Cases: {pairing}: {c['reason']}; {c['matched']} matched by input"))
    for key, title in (
        ("a_right_b_wrong", "A right, B wrong"),
        ("b_right_a_wrong", "B right, A wrong"),
    ):
        listed = c[key]
        out.print(Text(f"{title}: {listed['count']}"))
        for case in listed["data"][:shown]:
            line = f"  #{case['index']} [{case['expected_type']}] {case['input']}"
            out.print(Text(f"{line}  A: {_side(case['a'])}  B: {_side(case['b'])}"))


def _side(side: dict) -> str:
    """One job's outcome on a case, in a few words."""
    word = "right" if side["correct"] else "wrong"
    return f"{word} ({side['task_type']})" if side.get("task_type") else word
