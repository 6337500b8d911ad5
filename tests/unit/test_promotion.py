"""The promotion gate: rules (promote_if) checked against a job's report, and their schema."""

import json

import pytest
from marshmallow import ValidationError

from tuneloop.contracts import LATEST_PROMOTED
from tuneloop.report import evidence
from tuneloop.report.outcomes import OutcomeLog
from tuneloop.report.promotion import decide
from tuneloop.schemas.promotion import (
    PROMOTION_METRICS,
    PromoteRuleSchema,
    PromotionSchema,
)
from tuneloop.stages.compare import improvement
from tuneloop.stages.evaluate import MetricsAccumulator

BASE_ACCURACY, TUNED_ACCURACY = 0.80, 0.85


def report() -> dict:
    """A report shaped as compare returns it: accuracy 0.80 -> 0.85, no reference outputs."""
    change = TUNED_ACCURACY - BASE_ACCURACY  # 0.04999999999999993: float noise, not a miss
    return {
        "fine_tuned_metrics": {
            "task_accuracy": TUNED_ACCURACY,
            "macro_f1": 0.81,
            "response_quality": None,
            "ci95": {
                "task_accuracy": [0.78, 0.91],
                "macro_f1": [0.7, 0.9],
                "response_quality": None,
            },
        },
        "improvement": {
            "task_accuracy": {"absolute": change, "absolute_ci95": [-0.02, 0.12]},
            "macro_f1": {"absolute": 0.1, "absolute_ci95": [0.01, 0.2]},
            "response_quality": {"absolute": None, "absolute_ci95": None},
        },
    }


def test_without_rules_there_is_no_gate() -> None:
    assert decide([], report()) is None


def test_a_report_meeting_every_rule_promotes_its_model_as_latest_promoted() -> None:
    rules = [
        {"metric": "task_accuracy", "min_value": 0.8},
        {"metric": "task_accuracy", "min_delta": 0.05},  # met although 0.85 - 0.80 < 0.05
    ]
    decision = decide(rules, report())
    assert decision["promoted"] is True and decision["alias"] == LATEST_PROMOTED
    assert decision["checks"] == [
        {
            "metric": "task_accuracy",
            "rule": "min_value",
            "threshold": 0.8,
            "bound": "point",
            "observed": TUNED_ACCURACY,
            "passed": True,
        },
        {
            "metric": "task_accuracy",
            "rule": "min_delta",
            "threshold": 0.05,
            "bound": "point",
            "observed": TUNED_ACCURACY - BASE_ACCURACY,
            "passed": True,
        },
    ]
    assert decision["reason"].startswith("Promoted as latest-promoted")


def test_a_change_short_of_min_delta_is_not_promoted_and_the_reason_says_by_what() -> None:
    decision = decide([{"metric": "task_accuracy", "min_delta": 0.06}], report())
    assert decision["promoted"] is False and decision["alias"] is None
    assert decision["checks"][0]["passed"] is False
    assert decision["reason"] == (
        "Not promoted (1 of 1 checks failed): the change in task_accuracy +0.05 is below 0.06."
    )


def test_the_lower_bound_of_the_interval_is_compared_when_asked() -> None:
    rules = [
        {"metric": "task_accuracy", "min_delta": 0.0, "use_lower_bound": True},
        {"metric": "task_accuracy", "min_value": 0.8, "use_lower_bound": True},
        {"metric": "macro_f1", "min_delta": 0.0, "use_lower_bound": True},
    ]
    decision = decide(rules, report())
    observed = [(c["bound"], c["observed"], c["passed"]) for c in decision["checks"]]
    assert observed == [
        ("lower_ci95", -0.02, False),
        ("lower_ci95", 0.78, False),
        ("lower_ci95", 0.01, True),
    ]
    assert decision["promoted"] is False
    assert (
        "the lower 95% bound of the change in task_accuracy -0.02 is below 0"
        in (decision["reason"])
    )
    # The same rules on the point values pass.
    point = [{k: v for k, v in r.items() if k != "use_lower_bound"} for r in rules]
    assert decide(point, report())["promoted"] is True


def test_a_metric_null_on_this_evaluation_fails_its_check_and_the_reason_says_why() -> None:
    for rule in (
        {"metric": "response_quality", "min_value": 0.1},
        {"metric": "response_quality", "min_delta": 0.0, "use_lower_bound": True},
    ):
        decision = decide([rule], report())
        assert decision["checks"][0]["observed"] is None
        assert decision["checks"][0]["passed"] is False and decision["promoted"] is False
        assert "undefined (the evaluation cases have no reference outputs)" in decision["reason"]


def test_a_metric_the_report_does_not_carry_fails_as_not_measured() -> None:
    decision = decide([{"metric": "response_chrf", "min_value": 0.0}], report())
    assert decision["checks"][0]["observed"] is None and decision["promoted"] is False
    assert (
        "response_chrf is undefined (the evaluation cases have no reference" in (decision["reason"])
    )
    decision = decide([{"metric": "overall_score", "min_value": 0.0}], report())
    assert "overall_score is undefined (this evaluation did not measure it)" in decision["reason"]


def test_a_lower_bound_missing_beside_a_point_value_says_the_interval_is_missing() -> None:
    older = report()
    del older["fine_tuned_metrics"]["ci95"]  # a report without per-case outcomes
    decision = decide(
        [{"metric": "task_accuracy", "min_value": 0.5, "use_lower_bound": True}], older
    )
    assert decision["checks"][0]["observed"] is None and decision["promoted"] is False
    assert "(the report has no confidence interval for it)" in decision["reason"]


def test_every_rule_must_pass_and_the_reason_lists_only_the_failures() -> None:
    rules = [
        {"metric": "task_accuracy", "min_value": 0.8},
        {"metric": "macro_f1", "min_value": 0.9},
        {"metric": "macro_f1", "min_delta": 0.05},
    ]
    decision = decide(rules, report())
    assert [c["passed"] for c in decision["checks"]] == [True, False, True]
    assert decision["promoted"] is False
    assert decision["reason"] == (
        "Not promoted (1 of 3 checks failed): macro_f1 0.81 is below 0.9."
    )


def real_report(expected: list[str], base: list[str], tuned: list[str]) -> dict:
    """Return the metric parts of a report built as compare builds it (no reference outputs)."""
    metrics, outcomes = [], []
    for predicted in (base, tuned):
        cases = [{"input": f"q{i}", "expected_type": e} for i, e in enumerate(expected)]
        answers = [{"text": "ok", "confidence": 0.6, "task_type": p} for p in predicted]
        acc, log = MetricsAccumulator(), OutcomeLog()
        log.add(cases, answers, acc.add(cases, answers))
        metrics.append(acc.result())
        outcomes.append(log.outcomes())
    change = improvement(*metrics)
    return evidence.additions(*metrics, change, *outcomes, seed=3)


def test_the_gate_reads_the_values_of_a_report_built_as_compare_builds_it() -> None:
    expected = ["a", "a", "a", "b", "b", "c", "c"]
    base, tuned = ["a"] * 7, ["a", "a", "b", "b", "b", "c", "a"]  # 3 of 7 right, then 5 of 7
    built = real_report(expected, base, tuned)
    rules = [
        {"metric": "task_accuracy", "min_value": 5 / 7},
        {"metric": "task_accuracy", "min_delta": 2 / 7},
        {"metric": "macro_f1", "min_value": 0.0, "use_lower_bound": True},
        {"metric": "response_quality", "min_value": 0.0},
    ]
    checks = decide(rules, built)["checks"]
    assert checks[0]["observed"] == pytest.approx(5 / 7) and checks[0]["passed"]
    assert checks[1]["observed"] == pytest.approx(2 / 7) and checks[1]["passed"]
    assert checks[2]["observed"] == built["fine_tuned_metrics"]["ci95"]["macro_f1"][0]
    assert checks[3]["observed"] is None and not checks[3]["passed"]


def test_the_result_schema_describes_every_field_of_a_decision() -> None:
    decision = decide([{"metric": "task_accuracy", "min_delta": 0.06}], report())
    assert PromotionSchema().dump(decision) == json.loads(json.dumps(decision))


# --- the rules' schema --------------------------------------------------------------------


def load_error(rule: dict) -> dict:
    """Return the validation messages of one rule."""
    with pytest.raises(ValidationError) as caught:
        PromoteRuleSchema().load(rule)
    return caught.value.messages


def test_a_rule_loads_with_use_lower_bound_false_by_default() -> None:
    assert PromoteRuleSchema().load({"metric": "macro_f1", "min_delta": -0.01}) == {
        "metric": "macro_f1",
        "min_delta": -0.01,
        "use_lower_bound": False,
    }


def test_an_unknown_metric_is_named_with_the_known_ones() -> None:
    known = ", ".join(PROMOTION_METRICS)
    assert load_error({"metric": "acc", "min_value": 0.5}) == {
        "metric": [f"unknown metric 'acc'; known: {known}"]
    }


def test_a_rule_with_both_thresholds_or_neither_is_refused() -> None:
    both = load_error({"metric": "macro_f1", "min_value": 0.5, "min_delta": 0.1})
    assert both == {"_schema": ["give exactly one of min_delta or min_value, not both"]}
    neither = load_error({"metric": "macro_f1", "use_lower_bound": True})
    assert neither == {"_schema": ["give exactly one of min_delta or min_value (neither given)"]}


@pytest.mark.parametrize(
    "rule",
    [
        {"metric": "macro_f1", "min_value": "0.5"},
        {"metric": "macro_f1", "min_value": 1.5},
        {"metric": "macro_f1", "min_delta": -2},
        {"metric": "macro_f1", "min_delta": 0.1, "use_lower_bound": "yes"},
        {"metric": "macro_f1", "min_delta": 0.1, "min_gain": 0.1},
    ],
)
def test_a_malformed_threshold_or_field_is_refused(rule: dict) -> None:
    assert load_error(rule)
