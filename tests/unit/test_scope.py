"""Out-of-scope figures: in-scope accuracy, out-of-scope recall and precision."""

import pytest

from tuneloop.report import routes as routes_module
from tuneloop.report.outcomes import OutcomeLog, Outcomes
from tuneloop.report.routes import RouteLog, Routes
from tuneloop.report.scope import agent_scope, out_of_scope, tradeoff
from tuneloop.report.tradeoff import curve_thresholds

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


# where the agent routed each of the seven cases before abstaining, and how sure it was
ROUTED = ["a", "b", "b", "oos", "a", "b", "b"]
TOPS = [0.9, 0.3, 0.8, 0.95, 0.6, 0.2, 0.4]


def routes(routed: list[str] = ROUTED, tops: list[float] = TOPS) -> Routes:
    log = RouteLog()
    log.add(tops[:3], routed[:3])  # two batches, as evaluate_agent adds them
    log.add(tops[3:], routed[3:])
    return log.routes()


def test_routes_round_trip_through_their_bytes():
    original = routes()
    loaded = routes_module.load(routes_module.dump(original))
    assert loaded.labels == original.labels == ["a", "b", "oos"]
    assert loaded.task.tolist() == original.task.tolist() == [0, 1, 1, 2, 0, 1, 1]
    assert loaded.top.tolist() == TOPS
    assert routes_module.load(None) is None


def test_the_tradeoff_on_the_cases_counts_each_threshold_by_hand():
    # in scope: 0 a (a 0.9), 1 a (b 0.3, wrong), 2 b (b 0.8), 6 b (b 0.4)
    # out of scope: 3 (oos 0.95, caught), 4 (a 0.6), 5 (b 0.2)
    points = {
        p["threshold"]: p for p in tradeoff("oos", 0.5, outcomes(EXPECTED, PREDICTED), routes())
    }
    assert sorted(points) == curve_thresholds(0.5)
    assert points[0.0] == {
        "threshold": 0.0,
        "in_scope_accuracy": 0.75,
        "out_of_scope_recall": pytest.approx(1 / 3),
        "in_scope_loss": 0.0,
    }
    # under 0.5: abstains on 1 (wrong anyway), 5 (oos) and 6 (right): 2/4 right, 2/3 recalled
    assert points[0.5]["in_scope_accuracy"] == 0.5
    assert points[0.5]["out_of_scope_recall"] == pytest.approx(2 / 3)
    assert points[0.5]["in_scope_loss"] == 0.25
    # under 0.7 also 4 (oos): every out-of-scope case recalled
    assert points[0.7]["out_of_scope_recall"] == 1.0


def test_the_tradeoff_does_not_depend_on_how_labels_are_coded():
    o, original = outcomes(EXPECTED, PREDICTED), routes()
    recoded = o.recoded(["z", "oos", "b", "a"])
    reversed_codes = Routes(["oos", "b", "a"], 2 - original.task, original.top)
    expected = tradeoff("oos", 0.5, o, original)
    assert tradeoff("oos", 0.5, recoded, reversed_codes) == expected
    assert tradeoff("oos", 0.5, o, reversed_codes) == expected


def test_routes_of_other_cases_give_no_tradeoff():
    assert tradeoff("oos", 0.5, outcomes(EXPECTED, PREDICTED), routes(ROUTED[:6], TOPS[:6])) is None


def test_the_report_has_the_curve_at_the_agents_threshold_only_with_routes():
    base, tuned = outcomes(EXPECTED, ["a"] * 7), outcomes(EXPECTED, PREDICTED)
    abstention = {"task": "oos", "threshold": 0.42}
    report = out_of_scope("oos", abstention, base, tuned, routes())
    assert 0.42 in [p["threshold"] for p in report["curve"]]
    assert out_of_scope("oos", abstention, base, tuned)["curve"] is None
    # without a threshold for this task the curve is around no abstention
    other = out_of_scope("oos", None, base, tuned, routes())
    assert [p["threshold"] for p in other["curve"]] == curve_thresholds(0.0)
