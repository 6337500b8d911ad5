"""Out-of-scope figures: in-scope accuracy, out-of-scope recall and precision."""

import pytest

from tuneloop.stages.outcomes import OutcomeLog, Outcomes
from tuneloop.stages.scope import agent_scope, out_of_scope

# in scope: 0 a->a, 1 a->oos, 2 b->b, 6 b->oos (2 of 4 right)
# out of scope: 3 ->oos, 4 ->a, 5 ->oos (recall 2/3); answered oos: 1, 3, 5, 6 (precision 2/4)
EXPECTED = ["a", "a", "b", "oos", "oos", "oos", "b"]
PREDICTED = ["a", "oos", "b", "oos", "a", "oos", "oos"]


def outcomes(expected: list[str], predicted: list[str]) -> Outcomes:
    log = OutcomeLog()
    cases = [{"input": str(i), "expected_type": e} for i, e in enumerate(expected)]
    answers = [{"text": "t", "task_type": p, "confidence": 0.5} for p in predicted]
    log.add(cases, answers, [(None, None)] * len(cases))
    return log.outcomes()


def test_scope_figures_match_hand_counts():
    assert agent_scope(outcomes(EXPECTED, PREDICTED), "oos") == {
        "in_scope_accuracy": 0.5,
        "out_of_scope_recall": pytest.approx(2 / 3),
        "out_of_scope_precision": 0.5,
        "n_in_scope": 4,
        "n_out_of_scope": 3,
    }


def test_recall_and_precision_are_null_without_out_of_scope_cases_or_answers():
    figures = agent_scope(outcomes(["a", "b"], ["a", "a"]), "oos")
    assert figures["out_of_scope_recall"] is None
    assert figures["out_of_scope_precision"] is None
    assert figures["in_scope_accuracy"] == 0.5
    assert (figures["n_in_scope"], figures["n_out_of_scope"]) == (2, 0)


def test_an_agent_that_never_abstains_has_zero_recall_and_no_precision():
    figures = agent_scope(outcomes(EXPECTED, [e if e != "oos" else "a" for e in EXPECTED]), "oos")
    assert figures["out_of_scope_recall"] == 0.0
    assert figures["out_of_scope_precision"] is None
    assert figures["in_scope_accuracy"] == 1.0


def test_report_names_the_task_and_the_threshold_fine_tuning_chose():
    base, tuned = outcomes(EXPECTED, ["a"] * 7), outcomes(EXPECTED, PREDICTED)
    abstention = {"task": "oos", "threshold": 0.42, "chosen_by": "validation", "validation": {}}
    r = out_of_scope("oos", abstention, base, tuned)
    assert (r["task"], r["threshold"]) == ("oos", 0.42)
    assert r["baseline"]["out_of_scope_recall"] == 0.0
    assert r["fine_tuned"]["out_of_scope_recall"] == pytest.approx(2 / 3)
    assert out_of_scope("oos", None, base, tuned)["threshold"] is None
    # a model that abstains to another task has no threshold for this one
    assert out_of_scope("a", abstention, base, tuned)["threshold"] is None


def test_figures_do_not_depend_on_how_labels_are_coded():
    o = outcomes(EXPECTED, PREDICTED)
    recoded = o.recoded(["z", "oos", "b", "a"])
    assert agent_scope(recoded, "oos") == agent_scope(o, "oos")
