"""The CLI reports' case counts and their verdict line without a McNemar test."""

from rich.console import Console
from tuneloop_cli import lab_report, report


def test_the_cases_line_counts_wrong_cases_once_the_job_kept_them() -> None:
    old = {"improved": 3, "regressed": 1}
    assert lab_report.cases_line(old) == "3 improved, 1 regressed"
    assert lab_report.cases_line({**old, "wrong": 7}) == "3 improved, 1 regressed, 7 wrong"


def test_a_significance_without_mcnemar_reads_p_na_in_both_reports() -> None:
    result = {
        "significance": {"conclusive": False, "n_cases": 12, "verdict": "Cannot tell."},
        "cases": {"improved": 2, "regressed": 0, "wrong": 5},
    }
    lab = "\n".join(lab_report._judgement(result))
    assert "McNemar p n/a over 12 cases. Cannot tell." in lab
    assert "Cases: 2 improved, 0 regressed, 5 wrong" in lab
    console = Console(width=200, record=True)
    console.print(report.verdict(result))
    text = console.export_text()
    assert "McNemar p n/a" in text and "Cases: 2 improved, 0 regressed, 5 wrong" in text
