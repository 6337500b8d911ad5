"""`tuneloop ask MODEL "question"`: one answer from a model."""

from __future__ import annotations

import click

from tuneloop_cli.client import Api, part
from tuneloop_cli.output import err, print_json
from tuneloop_cli.short_ids import model_argument


@click.command()
@click.argument("model", callback=model_argument)
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as JSON.")
@click.pass_obj
def ask(api: Api, model: str, question: str, as_json: bool) -> None:
    """Ask MODEL (an id, or latest-promoted) to answer QUESTION."""
    answer = api.post(f"/v1/models/{part(model)}/responses", {"input": question})
    if as_json:
        print_json(answer)
        return
    click.echo(answer["text"])
    err.print(
        f"{answer['task_type']} · confidence {answer['confidence']:.3f} · {answer['reasoning']}",
        style="dim",
        markup=False,
    )
