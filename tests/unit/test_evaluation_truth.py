"""A report's classification truth and uncertainty: per-task scores, bootstrap, McNemar."""

import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from tuneloop.agent import npz
from tuneloop.report import bootstrap, evidence
from tuneloop.report.bootstrap import (
    case_columns,
    draw_counts,
    interval,
    macro_f1_rows,
    paired_bootstrap,
    resampled_metrics,
)
from tuneloop.report.calibration import reliability
from tuneloop.report.cases import case_records
from tuneloop.report.classification import classification, confused_pairs, per_task_scores
from tuneloop.report.outcomes import OutcomeLog, Outcomes, UnpairedError, dump, load, paired
from tuneloop.report.scope import out_of_scope
from tuneloop.report.significance import mcnemar, verdict
from tuneloop.schemas.results import CasePageSchema, JobResultSchema
from tuneloop.stages.compare import improvement
from tuneloop.stages.evaluate import MetricsAccumulator

# a: 2 of 3 right; b: 1 of 2 (one b was called c); c: 1 of 2 (one c was called d, never expected)
EXPECTED = ["a", "a", "a", "b", "b", "c", "c"]
PREDICTED = ["a", "a", "b", "b", "c", "c", "d"]


def run(
    expected: list[str], predicted: list[str], references: list[str] | None = None
) -> tuple[dict, Outcomes]:
    """Evaluate one agent's answers as _evaluate does; return its metrics and its outcomes."""
    cases = [{"input": f"q{i}", "expected_type": e} for i, e in enumerate(expected)]
    for case, reference in zip(cases, references or [], strict=False):
        case["reference_output"] = reference
    answers = [
        {"text": "sunny in oslo", "confidence": 0.5 + 0.01 * (i % 7), "task_type": p}
        for i, p in enumerate(predicted)
    ]
    acc, log = MetricsAccumulator(), OutcomeLog()
    log.add(cases, answers, acc.add(cases, answers))
    return acc.result(), log.outcomes()


def report(expected: list[str], base: list[str], tuned: list[str], seed: int = 7) -> dict:
    """Return the report's additions for two agents answering the same cases."""
    (base_metrics, base_out), (tuned_metrics, tuned_out) = run(expected, base), run(expected, tuned)
    change = improvement(base_metrics, tuned_metrics)
    return evidence.additions(base_metrics, tuned_metrics, change, base_out, tuned_out, seed=seed)


def coded(expected: list[str], predicted: list[str]) -> Outcomes:
    """Return one agent's outcomes coded over its sorted labels."""
    outcomes = run(expected, predicted)[1]
    return paired(outcomes, outcomes)[0]


# --- classification truth -----------------------------------------------------------------


def test_per_task_scores_are_sklearns_and_match_hand_counts():
    o = coded(EXPECTED, PREDICTED)
    got = classification(o.labels, o.expected, o.predicted)["by_task_type"]
    assert got["a"] == {"precision": 1.0, "recall": pytest.approx(2 / 3), "f1": 0.8, "support": 3}
    assert got["b"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert got["c"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert got["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    p, r, f, s = precision_recall_fscore_support(EXPECTED, PREDICTED, zero_division=0)
    for i, label in enumerate(["a", "b", "c", "d"]):
        assert [got[label][k] for k in ("precision", "recall", "f1", "support")] == pytest.approx(
            [p[i], r[i], f[i], s[i]]
        )


def test_macro_f1_averages_only_the_expected_task_types():
    o = coded(EXPECTED, PREDICTED)
    truth = classification(o.labels, o.expected, o.predicted)
    assert truth["macro_f1"] == pytest.approx((0.8 + 0.5 + 0.5) / 3)  # not d's 0: 0.45
    assert truth["macro_f1"] == pytest.approx(
        f1_score(EXPECTED, PREDICTED, labels=["a", "b", "c"], average="macro")
    )
    assert truth["accuracy"] == pytest.approx(4 / 7)


def test_confused_pairs_rank_by_count_then_name():
    expected = [*"aaaaaa", *"bbbb", *"cc"]
    predicted = [*"bbbcaa", *"aacb", *"ab"]
    o = coded(expected, predicted)
    assert confused_pairs(o.labels, o.expected, o.predicted) == [
        {"expected": "a", "predicted": "b", "count": 3},
        {"expected": "b", "predicted": "a", "count": 2},
        {"expected": "a", "predicted": "c", "count": 1},
        {"expected": "b", "predicted": "c", "count": 1},
        {"expected": "c", "predicted": "a", "count": 1},
        {"expected": "c", "predicted": "b", "count": 1},
    ]
    assert len(confused_pairs(o.labels, o.expected, o.predicted, top=2)) == 2


def test_confused_pairs_agree_with_sklearns_confusion_matrix():
    rng = np.random.default_rng(3)
    expected, predicted = rng.integers(0, 6, 400), rng.integers(0, 7, 400)
    labels = [f"t{i}" for i in range(7)]
    matrix = confusion_matrix(expected, predicted, labels=range(7))
    np.fill_diagonal(matrix, 0)
    got = confused_pairs(labels, expected, predicted, top=100)
    assert {(p["expected"], p["predicted"]): p["count"] for p in got} == {
        (labels[i], labels[j]): int(matrix[i, j]) for i, j in zip(*np.nonzero(matrix), strict=True)
    }


def test_no_mistakes_gives_no_confused_pairs():
    o = coded(["a", "b"], ["a", "b"])
    assert confused_pairs(o.labels, o.expected, o.predicted) == []


# --- per-case outcomes --------------------------------------------------------------------


def test_outcomes_survive_dump_and_load():
    _, o = run(EXPECTED, PREDICTED, ["sunny"] * 7)
    back = load(dump(o))
    assert (back.labels, back.texts) == (o.labels, o.texts) == (o.labels, ["sunny in oslo"])
    for name in ("expected", "predicted", "confidence", "quality", "chrf", "answer"):
        np.testing.assert_array_equal(getattr(back, name), getattr(o, name))


def test_outcomes_of_an_older_worker_load_as_none():
    _, o = run(EXPECTED, PREDICTED, ["sunny"] * 7)
    older = {name: getattr(o, name) for name in ("expected", "predicted", "confidence", "quality")}
    assert load(npz.dump(older, {"labels": o.labels})) is None
    assert load(None) is None


def test_pairing_recodes_both_agents_over_one_sorted_label_list():
    _, base = run(["b", "a"], ["general", "general"])
    _, tuned = run(["b", "a"], ["b", "b"])
    b, t = paired(base, tuned)
    assert b.labels == t.labels == ["a", "b", "general"]
    assert b.expected.tolist() == t.expected.tolist() == [1, 0]
    assert b.predicted.tolist() == [2, 2] and t.predicted.tolist() == [1, 1]


def test_pairing_refuses_outcomes_of_different_cases():
    with pytest.raises(UnpairedError):
        paired(run(["a", "b"], ["a", "a"])[1], run(["b", "a"], ["a", "a"])[1])


# --- bootstrap ----------------------------------------------------------------------------


def test_vectorized_macro_f1_equals_sklearn_on_the_full_sample_and_on_a_resample():
    rng = np.random.default_rng(5)
    expected, predicted = rng.integers(0, 9, 300), rng.integers(0, 10, 300)
    whole = macro_f1_rows(np.ones((1, 300)), expected, predicted, 10)[0]
    assert whole == pytest.approx(
        f1_score(expected, predicted, labels=np.unique(expected), average="macro"), abs=1e-12
    )
    idx = rng.integers(0, 300, 300)
    counts = np.bincount(idx, minlength=300)[None, :].astype(float)
    resampled = macro_f1_rows(counts, expected, predicted, 10)[0]
    e, p = expected[idx], predicted[idx]
    assert resampled == pytest.approx(
        f1_score(e, p, labels=np.unique(e), average="macro"), abs=1e-12
    )


def test_bootstrap_at_full_weight_gives_the_streamed_metrics():
    references = ["sunny today", "", "rain in oslo", "", "", "sunny", "oslo"]  # "": none
    metrics, o = run(EXPECTED, PREDICTED, references)
    rows = resampled_metrics(np.ones((1, len(EXPECTED))), o, case_columns(o))
    for name in (
        "task_accuracy",
        "average_confidence",
        "response_quality",
        "response_chrf",
        "overall_score",
    ):
        assert rows[name][0] == pytest.approx(metrics[name]), name


def test_each_resample_draws_n_cases():
    counts = draw_counts(np.random.default_rng(1), 50, 20)
    assert counts.shape == (20, 50)
    assert (counts.sum(axis=1) == 50).all()


def test_resamples_drawn_in_blocks_add_up_to_the_number_asked(monkeypatch):
    monkeypatch.setattr(bootstrap, "CELLS_PER_DRAW", 7 * 20)  # blocks of 7 resamples
    _, o = run(["a", "b"] * 10, ["a"] * 20)
    draws = paired_bootstrap(o, o, seed=3, resamples=30)
    assert all(len(draws[agent]["task_accuracy"]) == 30 for agent in ("baseline", "fine_tuned"))


def test_the_same_seed_gives_the_same_intervals_and_another_seed_other_ones():
    expected = ["a", "b", "c"] * 40
    base, tuned = ["a"] * 120, [e if i % 4 else "a" for i, e in enumerate(expected)]
    first, again = report(expected, base, tuned, seed=11), report(expected, base, tuned, seed=11)
    other = report(expected, base, tuned, seed=12)
    assert first == again
    assert first["improvement"] != other["improvement"]
    assert first["significance"]["bootstrap"]["resamples"] == 1000


def test_intervals_cover_their_point_estimates():
    expected = ["a", "b", "c", "d"] * 50
    base = [e if i % 3 == 0 else "a" for i, e in enumerate(expected)]
    tuned = [e if i % 5 else "b" for i, e in enumerate(expected)]
    r = report(expected, base, tuned)
    for agent in ("baseline_metrics", "fine_tuned_metrics"):
        for name in ("task_accuracy", "macro_f1", "average_confidence", "overall_score"):
            low, high = r[agent]["ci95"][name]
            assert low <= r[agent][name] <= high, (agent, name)
    for name, change in r["improvement"].items():
        if change["absolute"] is not None:
            low, high = change["absolute_ci95"]
            assert low <= change["absolute"] <= high, name
            low, high = change["relative_ci95"]
            assert low <= change["relative"] <= high, name


def test_identical_agents_have_a_zero_width_change_interval():
    # only a paired bootstrap (the same draws for both agents) gives exactly 0 every time
    expected = ["a", "b"] * 50
    answers = [e if i % 3 else "b" for i, e in enumerate(expected)]
    r = report(expected, answers, answers)
    assert r["improvement"]["task_accuracy"]["absolute_ci95"] == [0.0, 0.0]
    assert r["improvement"]["macro_f1"]["absolute_ci95"] == [0.0, 0.0]


def test_a_relative_change_from_zero_has_no_interval():
    r = report(["a", "b"] * 20, ["c"] * 40, ["a", "b"] * 20)
    assert r["improvement"]["task_accuracy"]["relative"] is None
    assert r["improvement"]["task_accuracy"]["relative_ci95"] is None
    assert r["improvement"]["task_accuracy"]["absolute_ci95"] == [1.0, 1.0]


def test_interval_of_nothing_finite_is_none():
    assert interval(None) is None
    assert interval(np.array([np.nan, np.nan])) is None
    assert interval(np.arange(101.0)) == [2.5, 97.5]


def test_quality_is_left_undefined_without_references():
    r = report(["a", "b"] * 20, ["a"] * 40, ["a", "b"] * 20)
    for name in ("response_quality", "response_chrf"):
        assert r["baseline_metrics"][name] is None
        assert r["baseline_metrics"]["ci95"][name] is None
        assert r["improvement"][name]["absolute_ci95"] is None


def test_paired_bootstrap_scores_both_agents_on_the_same_draws():
    _, o = run(["a", "b"] * 10, ["a", "b"] * 10)
    o = paired(o, o)[0]
    draws = paired_bootstrap(o, o, seed=3, resamples=30)
    np.testing.assert_array_equal(
        draws["baseline"]["average_confidence"], draws["fine_tuned"]["average_confidence"]
    )
    assert len(set(draws["baseline"]["average_confidence"])) > 1


# --- McNemar and the verdict --------------------------------------------------------------


def test_mcnemar_exact_p_value_of_a_known_table():
    # 1 case only the baseline got right, 9 only the fine-tuned: p = 2 * (1 + 10) / 2**10
    base = np.array([1] * 5 + [1] + [0] * 9 + [0] * 3, dtype=bool)
    tuned = np.array([1] * 5 + [0] + [1] * 9 + [0] * 3, dtype=bool)
    test = mcnemar(base, tuned)
    assert test["p_value"] == pytest.approx(22 / 1024, rel=1e-12)
    assert (test["both_correct"], test["baseline_only_correct"]) == (5, 1)
    assert (test["fine_tuned_only_correct"], test["both_wrong"]) == (9, 3)
    assert mcnemar(tuned, base)["p_value"] == pytest.approx(22 / 1024, rel=1e-12)


def test_verdict_needs_enough_cases_an_interval_without_zero_and_mcnemar_below_alpha():
    assert verdict(100, 0.05, [0.01, 0.09], 0.01)[0] is True
    assert verdict(29, 0.05, [0.01, 0.09], 0.01)[0] is False
    assert verdict(100, 0.05, [-0.01, 0.09], 0.01)[0] is False
    assert verdict(100, 0.05, [0.01, 0.09], 0.05)[0] is False


def test_mcnemar_without_discordant_cases_is_one():
    same = np.array([True, False, True])
    assert mcnemar(same, same)["p_value"] == 1.0


def test_five_cases_cannot_tell_even_when_every_one_improves():
    r = report(["a", "b", "a", "b", "a"], ["c"] * 5, ["a", "b", "a", "b", "a"])
    s = r["significance"]
    assert s["conclusive"] is False
    assert s["verdict"].startswith("Cannot tell: 5 evaluation cases are too few")
    assert s["mcnemar"]["p_value"] == pytest.approx(2 / 32)


def test_many_cases_and_a_clear_win_are_conclusive():
    expected = ["a", "b", "c", "d"] * 100
    base = ["a"] * 400
    tuned = [e if i % 10 else "d" for i, e in enumerate(expected)]
    s = report(expected, base, tuned)["significance"]
    assert s["conclusive"] is True
    assert s["verdict"].startswith("The fine-tuned agent is more accurate than the baseline")
    assert s["mcnemar"]["p_value"] < 1e-50


def test_many_cases_with_no_real_change_cannot_tell():
    expected = ["a", "b"] * 100
    base = [e if i % 4 else "x" for i, e in enumerate(expected)]
    tuned = [e if (i + 1) % 4 else "x" for i, e in enumerate(expected)]
    s = report(expected, base, tuned)["significance"]
    assert s["conclusive"] is False
    assert s["verdict"].startswith("Cannot tell: the change could be chance")


def test_a_clear_loss_is_conclusive_and_says_less():
    expected = ["a", "b"] * 100
    s = report(expected, expected, ["a"] * 200)["significance"]
    assert s["conclusive"] is True
    assert "is less accurate" in s["verdict"]


# --- the report ---------------------------------------------------------------------------


def test_additions_keep_every_existing_field_and_value():
    (base, base_out), (tuned, tuned_out) = run(EXPECTED, ["a"] * 7), run(EXPECTED, PREDICTED)
    change = improvement(base, tuned)
    r = evidence.additions(base, tuned, change, base_out, tuned_out, seed=1)
    assert r["baseline_metrics"].items() >= base.items()
    assert r["fine_tuned_metrics"].items() >= tuned.items()
    for name, entry in change.items():
        assert r["improvement"][name].items() >= entry.items()


def test_the_report_has_both_agents_calibration_on_the_paired_cases():
    expected = ["a", "b"] * 20
    r = report(expected, ["a"] * 40, expected)
    base, tuned = run(expected, ["a"] * 40)[1], run(expected, expected)[1]
    assert r["calibration"]["baseline"] == reliability(base.confidence, base.correct)
    assert r["calibration"]["fine_tuned"] == reliability(tuned.confidence, tuned.correct)
    # always right: every bin's gap is 1 - its mean confidence, so ECE is 1 - mean confidence
    assert r["calibration"]["fine_tuned"]["ece"] == pytest.approx(1 - tuned.confidence.mean())


def test_the_result_schema_describes_every_added_field():
    (base, base_out), (tuned, tuned_out) = run(EXPECTED, ["a"] * 7), run(EXPECTED, PREDICTED)
    r = {
        **evidence.additions(base, tuned, improvement(base, tuned), base_out, tuned_out, seed=1),
        "out_of_scope": out_of_scope("c", {"threshold": 0.3}, base_out, tuned_out),
        "cases": {"regressed": 1, "improved": 2, "wrong": 3},
    }
    assert JobResultSchema().dump(r) == json.loads(json.dumps(r))
    assert JobResultSchema().dump({"out_of_scope": None}) == {"out_of_scope": None}


def test_the_case_page_schema_describes_a_record():
    b, t = paired(*(run(["a", "b"], p)[1] for p in (["a", "a"], ["b", "b"])))
    cases = [{"input": "q0", "expected_type": "a"}, {"input": "q1", "expected_type": "b"}]
    records = [record for _, record in case_records([cases], b, t)]
    assert [r["index"] for r in records] == [0, 1]
    page = {"data": records, "has_more": False}
    assert CasePageSchema().dump(page) == {"object": "list", **json.loads(json.dumps(page))}


def test_per_task_scores_are_sklearns_bit_for_bit_on_random_agents():
    rng = np.random.default_rng(11)
    for _ in range(50):
        n_types, n = int(rng.integers(2, 30)), int(rng.integers(1, 400))
        expected = rng.integers(0, n_types, n)
        wrong = rng.integers(0, n_types + 3, n)  # some types only ever predicted
        predicted = np.where(rng.random(n) < 0.6, expected, wrong)
        seen = np.union1d(expected, predicted)
        ours = per_task_scores(expected, predicted, seen)
        theirs = precision_recall_fscore_support(expected, predicted, labels=seen, zero_division=0)
        for got, want in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(got, want)
        truth = classification([f"t{i}" for i in range(n_types + 3)], expected, predicted)
        assert truth["macro_f1"] == f1_score(
            expected, predicted, labels=np.unique(expected), average="macro", zero_division=0
        )
        assert truth["accuracy"] == accuracy_score(expected, predicted)


def test_classification_of_no_cases_is_refused_as_sklearn_refuses_it():
    empty = np.zeros(0, dtype=np.int64)
    with pytest.raises(ValueError):
        classification([], empty, empty)


def test_macro_f1_rows_score_each_of_many_resamples_as_sklearn_scores_it():
    rng = np.random.default_rng(8)
    expected, predicted = rng.integers(0, 6, 40), rng.integers(0, 8, 40)
    counts = draw_counts(rng, 40, 200)
    rows = macro_f1_rows(counts, expected, predicted, 8)
    for row, weights in zip(rows, counts, strict=True):
        idx = np.repeat(np.arange(40), weights.astype(int))
        e, p = expected[idx], predicted[idx]
        want = f1_score(e, p, labels=np.unique(e), average="macro", zero_division=0)
        assert row == pytest.approx(want, abs=1e-12)
