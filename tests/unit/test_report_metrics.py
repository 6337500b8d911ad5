"""The report's metric list has one home (tuneloop.report_metrics); every report follows it."""

import ast
from pathlib import Path

from rich.console import Console
from tuneloop_cli import lab_report
from tuneloop_cli.report import metrics_table

from tuneloop.report_metrics import HEADLINE, LAB_ORDER, interval, num, percent, signed
from tuneloop_gateway.pages.report import metric_rows

ROOT = Path(__file__).resolve().parents[2]
HOME = ROOT / "shared" / "tuneloop" / "report_metrics.py"


def metric_lists(path: Path) -> list[int]:
    """Return the lines of path holding a tuple or list literal of three or more metric names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Tuple | ast.List)
        and sum(isinstance(e, ast.Constant) and e.value in HEADLINE for e in node.elts) >= 3
    ]


def test_no_service_module_spells_out_the_metric_list() -> None:
    found = {
        str(path.relative_to(ROOT)): lines
        for path in (ROOT / "services").rglob("*.py")
        if (lines := metric_lists(path))
    }
    assert found == {}
    assert metric_lists(HOME), "the home itself spells it out"


def metric_set(offset: float) -> dict:
    """A metric set holding every headline metric, each with an interval."""
    values = {name: offset + i / 100 for i, name in enumerate(HEADLINE)}
    ci95 = {name: [value - 0.1, value + 0.1] for name, value in values.items()}
    return {**values, "n_cases": 40, "ci95": ci95}


def result() -> dict:
    """A result with both metric sets and the change of each metric."""
    base, tuned = metric_set(0.5), metric_set(0.6)
    change = {
        name: {"absolute": tuned[name] - base[name], "relative": 0.2, "absolute_ci95": [0, 0.2]}
        for name in HEADLINE
    }
    return {"baseline_metrics": base, "fine_tuned_metrics": tuned, "improvement": change}


def test_the_cli_and_the_pages_show_the_headline_metrics_in_its_order() -> None:
    console = Console(record=True, width=200, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(metrics_table(result()))
    lines = console.export_text().splitlines()
    shown = [next(n for n in HEADLINE if f" {n} " in line) for line in lines if "0." in line]
    assert shown == list(HEADLINE)
    assert [row["metric"] for row in metric_rows(result())] == list(HEADLINE)


def test_the_lab_report_shows_the_same_metrics_opening_with_the_labs_own() -> None:
    assert sorted(LAB_ORDER) == sorted(HEADLINE) and LAB_ORDER[0] == "average_confidence"
    lines = lab_report.metric_lines("Baseline metrics", metric_set(0.5))
    assert [line.split()[0] for line in lines[1:]] == list(LAB_ORDER)


def test_numbers_render_with_three_decimals_and_n_a_when_missing() -> None:
    assert [num(0.12345), num(0.12345, 4), num(None)] == ["0.123", "0.1235", "n/a"]
    assert [signed(0.1), signed(-0.1), signed(None)] == ["+0.100", "-0.100", "n/a"]
    assert [percent(0.2), percent(-0.038), percent(None)] == ["+20.0%", "-3.8%", "n/a"]
    assert [interval([0.1, 0.25]), interval(None)] == ["[0.100, 0.250]", ""]
