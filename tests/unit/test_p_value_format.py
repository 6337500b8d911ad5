"""One p-value format (tuneloop.report.format) for the verdict, the CLI and the pages."""

import pytest
from rich.console import Console
from tuneloop_cli import lab_report, report

from tuneloop.report.format import p_value
from tuneloop.report.significance import verdict


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0, "p < 1e-300"),
        (5e-324, "p < 1e-300"),
        (1e-301, "p < 1e-300"),
        (1e-300, "p = 1e-300"),
        (3.14e-12, "p = 3.1e-12"),
        (0.01171875, "p = 0.012"),
        (0.625, "p = 0.62"),
        (1.0, "p = 1"),
        (None, "p n/a"),
        (float("nan"), "p n/a"),
    ],
)
def test_p_values_are_written_with_two_digits_and_a_bound_never_zero(p, text):
    assert p_value(p) == text


def significance(p: float) -> dict:
    """A result's significance part as the compare stage writes it."""
    _, sentence = verdict(5000, 0.2, [0.15, 0.25], p)
    return {
        "significance": {
            "conclusive": True,
            "verdict": sentence,
            "n_cases": 5000,
            "mcnemar": {"p_value": p},
        }
    }


def test_the_verdict_sentence_and_both_cli_reports_write_an_underflowed_p_as_a_bound():
    result = significance(0.0)
    assert "McNemar p < 1e-300" in result["significance"]["verdict"]
    console = Console(width=200, record=True)
    console.print(report.verdict(result))
    cli = console.export_text()
    lab = "\n".join(lab_report._judgement(result))
    for text in (cli, lab):
        assert "p < 1e-300" in text and "p = 0" not in text
