"""response_chrf: sacrebleu's sentence chrF against the reference, beside token-F1 quality."""

import dataclasses
import math

import numpy as np
import pytest
from sacrebleu.metrics import CHRF

from tuneloop.report import evidence
from tuneloop.report.bootstrap import case_columns, resampled_metrics
from tuneloop.report.outcomes import OutcomeLog, Outcomes, dump, load
from tuneloop.stages import compare
from tuneloop.stages.evaluate import ChrfScorer, MetricsAccumulator, metrics

PAIRS = [
    ("The capital of Canada is Ottawa.", "The capital of France is Paris."),
    ("I'll look for hotels in Tokyo.", "I can help you book a hotel in Rome. Which dates?"),
    ("The capital of France is Paris.", "The capital of France is Paris."),
]


def case(task: str, reference: str | None = None) -> dict:
    return {"input": "q", "expected_type": task, "reference_output": reference}


def answer(task: str, text: str) -> dict:
    return {"text": text, "task_type": task, "confidence": 0.5, "reasoning": "r"}


@pytest.mark.parametrize(("text", "reference"), PAIRS)
def test_chrf_is_sacrebleus_sentence_and_single_pair_corpus_score_over_100(text, reference):
    got = ChrfScorer()(text, reference)
    assert got == pytest.approx(CHRF().sentence_score(text, [reference]).score / 100, abs=1e-12)
    assert got == pytest.approx(CHRF().corpus_score([text], [[reference]]).score / 100, abs=1e-12)


def test_chrf_is_stricter_than_token_f1_on_another_entitys_answer():
    text, reference = PAIRS[0]
    m = metrics([case("general", reference)], [answer("general", text)])
    assert m["response_quality"] == pytest.approx(2 / 3)  # the example: 4 of 6 words
    assert m["response_chrf"] == pytest.approx(0.4491005157, abs=1e-9)  # sacrebleu 2.6.0
    assert metrics([case("general", PAIRS[2][1])], [answer("general", PAIRS[2][0])])[
        "response_chrf"
    ] == pytest.approx(1.0)


def test_chrf_is_memoised_on_answer_and_reference_within_a_bound():
    score = ChrfScorer(size=2)
    got = [score(text, reference) for text, reference in [PAIRS[0], PAIRS[0], PAIRS[1], PAIRS[0]]]
    assert (score.hits, score.misses, len(score)) == (2, 2, 2)
    assert got[1] == got[3] == got[0]
    score(*PAIRS[2])  # a third pair evicts the least recently used one (PAIRS[1])
    assert len(score) == 2
    score(*PAIRS[0])
    assert score.hits == 3
    score(*PAIRS[1])
    assert score.misses == 4


def test_pairs_that_join_to_the_same_text_are_told_apart():
    score = ChrfScorer()
    assert score("sunny oslo", " today") != score("sunny", " oslo today")
    assert score.misses == 2


def test_chrf_is_undefined_without_a_reference_overall_and_per_task():
    cases = [case("a", PAIRS[0][1]), case("a"), case("b", ""), case("b")]
    answers = [answer("a", PAIRS[0][0]), answer("a", "x"), answer("b", "y"), answer("b", "z")]
    acc = MetricsAccumulator()
    scores = acc.add(cases, answers)
    assert [s.chrf is None for s in scores] == [False, True, True, True]
    m = acc.result()
    assert m["response_chrf"] == pytest.approx(scores[0].chrf)
    assert m["by_task_type"]["a"]["response_chrf"] == pytest.approx(scores[0].chrf)
    assert m["by_task_type"]["b"]["response_chrf"] is None
    assert m["overall_score"] == pytest.approx((1.0 + scores[0].quality) / 2)


def test_chrf_does_not_change_overall_score():
    cases = [case("a", PAIRS[1][1]), case("a", PAIRS[0][1])]
    answers = [answer("a", PAIRS[1][0]), answer("b", PAIRS[0][0])]
    m = metrics(cases, answers)
    assert m["overall_score"] == pytest.approx((0.5 + m["response_quality"]) / 2)
    assert m["response_chrf"] != pytest.approx(m["response_quality"])


def test_outcomes_keep_chrf_per_case_with_nan_without_reference():
    cases = [case("a", PAIRS[0][1]), case("a")]
    answers = [answer("a", PAIRS[0][0]), answer("a", "x")]
    acc, log = MetricsAccumulator(), OutcomeLog()
    log.add(cases, answers, acc.add(cases, answers))
    back = load(dump(log.outcomes()))
    text, reference = PAIRS[0]
    assert back.chrf[0] == pytest.approx(CHRF().sentence_score(text, [reference]).score / 100)
    assert math.isnan(back.chrf[1])


def run(n: int, seed: int) -> tuple[dict, Outcomes]:
    """Evaluate n random cases (a third without reference); return metrics and outcomes."""
    rng = np.random.default_rng(seed)
    words = ["rain", "in", "oslo", "sunny", "hotel", "rome", "today", "the"]
    cases, answers = [], []
    for i in range(n):
        reference = " ".join(rng.choice(words, 4)) if i % 3 else None
        cases.append(case("ab"[i % 2], reference))
        answers.append(answer("ab"[rng.integers(2)], " ".join(rng.choice(words, 3))))
    acc, log = MetricsAccumulator(), OutcomeLog()
    log.add(cases, answers, acc.add(cases, answers))
    return acc.result(), log.outcomes()


def test_bootstrap_at_full_weight_gives_the_streamed_chrf():
    m, o = run(60, 1)
    rows = resampled_metrics(np.ones((1, 60)), o, case_columns(o))
    assert rows["response_chrf"][0] == pytest.approx(m["response_chrf"])


def test_report_has_a_chrf_interval_and_change():
    (base, base_out), (tuned, tuned_out) = run(90, 2), run(90, 2)
    tuned_out = dataclasses.replace(tuned_out, chrf=tuned_out.chrf * 0.5)
    tuned = {**tuned, "response_chrf": tuned["response_chrf"] * 0.5}
    change = compare.improvement(base, tuned)
    r = evidence.additions(base, tuned, change, base_out, tuned_out, seed=4)
    low, high = r["baseline_metrics"]["ci95"]["response_chrf"]
    assert low < r["baseline_metrics"]["response_chrf"] < high
    c = r["improvement"]["response_chrf"]
    assert c["absolute"] == pytest.approx(-0.5 * base["response_chrf"])
    assert c["relative"] == pytest.approx(-0.5)
    assert c["absolute_ci95"][0] < c["absolute"] < c["absolute_ci95"][1] < 0
    assert c["relative_ci95"] == pytest.approx([-0.5, -0.5])
