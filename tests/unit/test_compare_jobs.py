"""Comparing two jobs: configuration differences, paired or unpaired intervals, case matching."""

import random

import pytest

from tuneloop.report import compare_stats as stats
from tuneloop.report.compare_jobs import compare, config_diff

N = 10  # evaluation cases of the jobs built here


def answer(task: str) -> dict:
    """An agent's answer routed to task."""
    return {"text": f"about {task}", "task_type": task, "confidence": 0.5}


def record(index: int, outcome: str, expected: str = "weather", other: str = "travel") -> dict:
    """A kept case: improved (the baseline routed it to other, the fine-tuned agent right)."""
    right, wrong = answer(expected), answer(other)
    baseline, tuned = (wrong, right) if outcome == "improved" else (right, wrong)
    return {
        "index": index,
        "input": f"question {index}",
        "expected_type": expected,
        "reference_output": None,
        "baseline": baseline,
        "fine_tuned": tuned,
    }


def job(name: str, accuracy: float, tasks: dict | None = None, **hyper: object) -> dict:
    """A succeeded job of N cases whose fine-tuned agent has the accuracy, its baseline 0.5."""
    ci = [max(0.0, accuracy - 0.2), min(1.0, accuracy + 0.2)]
    return {
        "id": name,
        "status": "succeeded",
        "kind": "fine_tuning",
        "request": {"hyperparameters": {"n_epochs": 3, **hyper}, "min_score": 0.8},
        "result": {
            "hyperparameters": {"n_epochs": 3, "learning_rate": 0.1, **hyper},
            "epochs": [{"epoch": 1, "train_loss": 1.0, "valid_loss": 1.1}],
            "baseline_metrics": {"n_cases": N, "task_accuracy": 0.5, "ci95": {}},
            "fine_tuned_metrics": {
                "n_cases": N,
                "task_accuracy": accuracy,
                "average_confidence": 0.6,
                "ci95": {"task_accuracy": ci, "average_confidence": [0.5, 0.7]},
                "by_task_type": tasks or {},
            },
            "cases": {"improved": 0, "regressed": 0},
        },
    }


def cases(*records: tuple[int, str]) -> dict:
    """A job's kept cases from (index, outcome) pairs."""
    return {
        o: [record(i, outcome) for i, outcome in records if outcome == o]
        for o in ("regressed", "improved")
    }


def test_config_diff_names_nested_paths_and_the_side_a_key_is_missing_from() -> None:
    a = {"request": {"hyperparameters": {"n_epochs": 3, "seed": 1}, "tags": [1, 2]}, "k": "x"}
    b = {"request": {"hyperparameters": {"n_epochs": 8, "seed": 1, "l2": 0.1}, "tags": [1]}}
    assert config_diff(a, b) == [
        {"path": "k", "a": "x", "b": None, "missing": "b"},
        {"path": "request.hyperparameters.l2", "a": None, "b": 0.1, "missing": "a"},
        {"path": "request.hyperparameters.n_epochs", "a": 3, "b": 8, "missing": None},
        {"path": "request.tags", "a": [1, 2], "b": [1], "missing": None},
    ]


def test_jobs_configured_alike_but_for_the_learning_rate_differ_only_there() -> None:
    found = compare(job("A", 0.5), job("B", 0.5, learning_rate=0.3), cases(), cases())
    paths = [row["path"] for row in found["config_diff"]]
    assert paths == ["request.hyperparameters.learning_rate", "used.learning_rate"]


def test_same_cases_pair_and_task_accuracy_gets_the_paired_bootstrap() -> None:
    # A improved cases 0 and 1 (0.7); B improved 0, 2 and 3 (0.8): A alone right on 1,
    # B alone right on 2 and 3.
    a, b = job("A", 0.7), job("B", 0.8)
    found = compare(
        a, b, cases((0, "improved"), (1, "improved")), cases(*((i, "improved") for i in (0, 2, 3)))
    )
    assert found["cases"]["paired"], found["cases"]["reason"]
    assert found["cases"]["matched"] == 1
    assert [c["index"] for c in found["cases"]["a_right_b_wrong"]["data"]] == [1]
    assert [c["index"] for c in found["cases"]["b_right_a_wrong"]["data"]] == [2, 3]
    rows = {row["name"]: row for row in found["metrics"]}
    assert rows["task_accuracy"]["method"] == stats.PAIRED
    assert rows["task_accuracy"]["ci95"] == stats.paired_interval(N, 2, 1)
    assert rows["average_confidence"]["method"] == stats.UNPAIRED
    assert found["intervals"]["bootstrap"] == {"resamples": stats.RESAMPLES, "seed": stats.SEED}


def test_a_case_one_job_regressed_was_right_in_the_other() -> None:
    found = compare(job("A", 0.5), job("B", 0.4), cases(), cases((5, "regressed")))
    (case,) = found["cases"]["a_right_b_wrong"]["data"]
    assert case["index"] == 5
    assert case["a"] == {"correct": True, "task_type": "weather", "text": None, "confidence": None}
    assert case["b"]["correct"] is False and case["b"]["task_type"] == "travel"
    assert found["cases"]["b_right_a_wrong"]["count"] == 0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("count", "evaluated on 10 cases and B on 12"),
        ("baseline", "baselines scored differently"),
        ("none", "kept no per-case outcomes"),
        ("sum", "do not add up"),
    ],
)
def test_other_cases_fall_back_to_the_unpaired_interval(change: str, reason: str) -> None:
    a, b = job("A", 0.6), job("B", 0.7)
    kept_a, kept_b = cases((0, "improved")), cases((0, "improved"), (1, "improved"))
    if change == "count":
        b["result"]["fine_tuned_metrics"]["n_cases"] = 12
    elif change == "baseline":
        b["result"]["baseline_metrics"]["task_accuracy"] = 0.6
    elif change == "none":
        kept_b = None
    else:
        b["result"]["fine_tuned_metrics"]["task_accuracy"] = 0.9
    found = compare(a, b, kept_a, kept_b)
    assert not found["cases"]["paired"] and reason in found["cases"]["reason"]
    accuracy = next(r for r in found["metrics"] if r["name"] == "task_accuracy")
    assert accuracy["method"] == stats.UNPAIRED
    assert set(found["intervals"]["methods"]) == {stats.UNPAIRED}
    assert "bootstrap" not in found["intervals"]


def test_unpaired_only_inputs_kept_by_both_jobs_are_compared() -> None:
    a, b = job("A", 0.6), job("B", 0.7)
    b["result"]["fine_tuned_metrics"]["n_cases"] = 12  # other cases: no pairing
    kept_a = cases((0, "improved"), (3, "improved"))
    kept_b = {"regressed": [record(0, "regressed", "weather", "travel")], "improved": []}
    kept_b["regressed"][0]["baseline"] = answer("travel")  # B's baseline wrong too: unknown
    found = compare(a, b, kept_a, kept_b)
    assert found["cases"]["matched"] == 1
    assert [c["index"] for c in found["cases"]["a_right_b_wrong"]["data"]] == [0]
    assert found["cases"]["b_right_a_wrong"]["count"] == 0  # case 3 is A's only: not known


def test_a_task_type_on_one_side_only_has_no_change() -> None:
    tasks_a = {"weather": {"n_cases": 4, "task_accuracy": 0.5}}
    tasks_b = {
        "weather": {"n_cases": 4, "task_accuracy": 0.75},
        "billing": {"n_cases": 2, "task_accuracy": 1.0},
    }
    found = compare(job("A", 0.5, tasks_a), job("B", 0.5, tasks_b), None, None)
    assert found["tasks"] == [
        {"task_type": "billing", "a": None, "b": 1.0, "delta": None, "a_cases": 0, "b_cases": 2},
        {"task_type": "weather", "a": 0.5, "b": 0.75, "delta": 0.25, "a_cases": 4, "b_cases": 4},
    ]


@pytest.mark.parametrize(
    ("n", "b_only", "a_only", "within"), [(40, 9, 3, 1.05 / 40), (400, 60, 20, 3.3 / 400)]
)
def test_the_paired_interval_matches_drawing_case_indices_one_by_one(
    n: int, b_only: int, a_only: int, within: float
) -> None:
    # 12 changed cases of 40 draw by geometric gaps; 80 of 400 by BTRS.
    diffs = [1] * b_only + [-1] * a_only + [0] * (n - b_only - a_only)
    rng = random.Random(7)
    brute = [sum(rng.choices(diffs, k=n)) / n for _ in range(2000)]
    expected = stats.percentile_interval(brute)
    got = stats.paired_interval(n, b_only, a_only, resamples=2000, seed=11)
    assert got == pytest.approx(expected, abs=within)  # Monte Carlo error: a few cases
    assert stats.paired_interval(n, b_only, a_only) == stats.paired_interval(n, b_only, a_only)
    assert stats.paired_interval(n, 0, 0) == [0.0, 0.0]


@pytest.mark.parametrize(("n", "p"), [(1000, 0.004), (50, 0.7), (200, 0.1), (10_000, 0.3)])
def test_the_binomial_draw_has_the_binomial_mean_and_variance(n: int, p: float) -> None:
    rng = random.Random(3)
    draws = [stats.binomial(rng, n, p) for _ in range(20_000)]
    mean = sum(draws) / len(draws)
    variance = sum((d - mean) ** 2 for d in draws) / len(draws)
    assert mean == pytest.approx(n * p, rel=0.02)
    assert variance == pytest.approx(n * p * (1 - p), rel=0.06)
    assert stats.binomial(rng, 10, 0.0) == 0 and stats.binomial(rng, 10, 1.0) == 10


def test_the_unpaired_interval_adds_each_sides_own_widths_in_quadrature() -> None:
    # The change's low end: B's distance down to its low, A's up to its high (and reverse).
    low, high = stats.unpaired_interval(0.5, [0.3, 0.6], 0.8, [0.77, 0.9])
    assert low == pytest.approx(0.3 - (0.03**2 + 0.1**2) ** 0.5)
    assert high == pytest.approx(0.3 + (0.1**2 + 0.2**2) ** 0.5)
    assert stats.unpaired_interval(0.5, None, 0.8, [0.7, 0.9]) is None
