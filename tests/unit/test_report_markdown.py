"""The Markdown report: a pure function of the job document."""

from tuneloop.report import markdown, significance


def job(result: dict | None, status: str = "succeeded") -> dict:
    """A job document around result."""
    request = {"model": "tuneloop-keyword-baseline", "suffix": "md"}
    return {"id": "ftjob-1", "kind": "fine_tuning", "status": status, "request": request,
            "result": result, "error": None}  # fmt: skip


RESULT = {
    "model_id": "ft-md-1",
    "baseline_metrics": {
        "n_cases": 40,
        "task_accuracy": 0.5,
        "ci95": {"task_accuracy": [0.35, 0.65]},
        "by_task_type": {"a|b": {"n_cases": 40, "task_accuracy": 0.5}},
    },
    "fine_tuned_metrics": {
        "n_cases": 40,
        "task_accuracy": 0.8,
        "ci95": {"task_accuracy": [0.675, 0.9]},
        "by_task_type": {"a|b": {"n_cases": 40, "task_accuracy": 0.8}},
    },
    "improvement": {
        "task_accuracy": {"absolute": 0.3, "relative": 0.6, "absolute_ci95": [0.1, 0.5]}
    },
    "significance": {"conclusive": True, "verdict": "Better.", "mcnemar": {"p_value": 0.0}},
    "training_data": {"total_examples": 120, "task_distribution": {"a|b": 120}, "dropped": {}},
}


def test_a_metric_row_shows_both_values_their_intervals_and_the_change() -> None:
    text = markdown.render(job(RESULT))
    row = (
        "| task_accuracy | 0.500 | [0.350, 0.650] | 0.800 | [0.675, 0.900] | +0.300 "
        "| [0.100, 0.500] | +60.0% |"
    )
    assert row in text
    assert "## Metrics (40 evaluation cases)" in text


def test_a_pipe_in_a_task_type_is_escaped_and_a_zero_p_value_is_a_bound() -> None:
    text = markdown.render(job(RESULT))
    assert "| a\\|b | 40 | 0.500 | 0.800 |" in text
    assert "McNemar p < 1e-300" in text
    assert "- Training examples: 120" in text and "- Dropped: none" in text


def test_a_job_without_a_result_says_its_status() -> None:
    text = markdown.render(job(None, "running"))
    assert text.startswith("# Report of job `ftjob-1`")
    assert "No report yet: the job is running." in text and "## Metrics" not in text


def test_a_verdict_that_gives_mcnemars_p_is_not_followed_by_it_again() -> None:
    _, sentence = significance.verdict(40, 0.3, [0.1, 0.5], 0.0)
    sig = {"conclusive": True, "verdict": sentence, "mcnemar": {"p_value": 0.0}}
    text = markdown.render(job({**RESULT, "significance": sig}))
    assert f"{sentence} (conclusive)" in text
    assert text.count("McNemar") == 1 and text.count("p < 1e-300") == 1


def test_a_verdict_without_mcnemars_test_says_only_whether_it_is_conclusive() -> None:
    sig = {"conclusive": False, "verdict": "The held-out likelihood changed too little."}
    text = markdown.render(job({**RESULT, "significance": sig}))
    assert "The held-out likelihood changed too little. (not conclusive)" in text
    assert "McNemar" not in text
