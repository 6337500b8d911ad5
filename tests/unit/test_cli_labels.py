"""The CLI prints task type labels as they are: brackets in a label are text, not rich markup."""

from click.testing import CliRunner
from rich.console import Console
from tuneloop_cli.jobs import show
from tuneloop_cli.report import task_table

LABELS = ["reverted_card_payment?", "[/bold]closing", "[red]card", "m\u00e9t\u00e9o"]


def printed(renderable: object) -> str:
    """What a wide console prints for renderable."""
    console = Console(record=True, width=200, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def test_the_report_table_shows_every_label_literally() -> None:
    metrics = {"by_task_type": {t: {"n_cases": 3, "task_accuracy": 0.5} for t in LABELS}}
    text = printed(task_table({"baseline_metrics": metrics, "fine_tuned_metrics": metrics}))
    for label in LABELS:
        assert label in text, text


class FakeApi:
    """Answers GET /v1/jobs/{id} with one job whose request selects the labels (and the list
    with it, which resolves the id given)."""

    def get(self, path: str, **params: object) -> dict:
        if path == "/v1/jobs":
            return {"data": [self.get("/v1/jobs/ftjob-1")], "has_more": False}
        return {
            "id": "ftjob-1",
            "kind": "fine_tuning",
            "status": "queued",
            "stage": None,
            "progress": {"current": 0, "total": 1, "percent": 0.0},
            "created_at": 0,
            "request": {"task_types": LABELS},
            "hyperparameters": {},
        }


def test_jobs_show_prints_the_requested_labels_literally() -> None:
    result = CliRunner().invoke(show, ["ftjob-1"], obj=FakeApi())
    assert result.exit_code == 0, result.output
    for label in LABELS:
        assert label in result.output, result.output
