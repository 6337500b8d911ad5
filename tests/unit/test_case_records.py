"""Regressions, wins and misses: records of the cases not both agents routed right, in order."""

import numpy as np
import pytest

from tuneloop.report.cases import case_records
from tuneloop.report.outcomes import OutcomeLog, Outcomes, UnpairedError, dump, load
from tuneloop.report.significance import mcnemar
from tuneloop.stages.evaluate import MetricsAccumulator

EXPECTED = ["a", "b", "a", "b", "a", "b"]
BASELINE = ["a", "b", "b", "a", "a", "a"]  # right: 0 1 4
FINE_TUNED = ["a", "a", "a", "b", "b", "b"]  # right: 0 2 3 5
REFERENCES = ["ra", "rb", None, "", "r4", "r5"]  # "" counts as no reference


def cases(expected: list[str] = EXPECTED, references: list = REFERENCES) -> list[dict]:
    out = [{"input": f"question {i}", "expected_type": e} for i, e in enumerate(expected)]
    for case, reference in zip(out, references, strict=True):
        if reference is not None:
            case["reference_output"] = reference
    return out


def batches() -> list[list[dict]]:
    every = cases()
    return [every[:4], every[4:]]


def outcomes(predicted: list[str], name: str, every: list[dict] | None = None) -> Outcomes:
    """Evaluate as _evaluate does; answers repeat (two texts per agent), confidences do not."""
    every = every or cases()
    answers = [
        {"text": f"{name} says {p}", "task_type": p, "confidence": (i % 9 + 1) / 10}
        for i, p in enumerate(predicted)
    ]
    acc, log = MetricsAccumulator(), OutcomeLog()
    log.add(every, answers, acc.add(every, answers))
    return log.outcomes()


def test_only_discordant_cases_come_out_in_evaluation_order_with_their_outcome():
    got = list(case_records(batches(), outcomes(BASELINE, "b"), outcomes(FINE_TUNED, "t")))
    assert [(outcome, r["index"]) for outcome, r in got] == [
        ("regressed", 1),
        ("improved", 2),
        ("improved", 3),
        ("regressed", 4),
        ("improved", 5),
    ]


def test_a_record_holds_the_input_reference_and_both_answers():
    base, tuned = outcomes(BASELINE, "b"), outcomes(FINE_TUNED, "t")
    records = {r["index"]: r for _, r in case_records(batches(), base, tuned)}
    assert records[4] == {
        "index": 4,
        "input": "question 4",
        "expected_type": "a",
        "reference_output": "r4",
        "baseline": {"text": "b says a", "task_type": "a", "confidence": pytest.approx(0.5)},
        "fine_tuned": {"text": "t says b", "task_type": "b", "confidence": pytest.approx(0.5)},
    }
    assert records[2]["reference_output"] is None
    assert records[3]["reference_output"] is None
    assert records[3]["baseline"]["text"] == "b says a"
    assert records[3]["fine_tuned"] == {
        "text": "t says b",
        "task_type": "b",
        "confidence": pytest.approx(0.4),
    }


def test_answer_texts_are_stored_once_each_and_survive_dump_and_load():
    o = outcomes(FINE_TUNED, "t")
    assert sorted(o.texts) == ["t says a", "t says b"]
    back = load(dump(o))
    assert [back.texts[c] for c in back.answer] == [f"t says {p}" for p in FINE_TUNED]


def test_counts_agree_with_mcnemars_cells_but_both_correct():
    rng = np.random.default_rng(2)
    expected = list(rng.choice(["a", "b", "c"], 300))
    base = [e if rng.random() < 0.6 else "c" for e in expected]
    tuned = [e if rng.random() < 0.7 else "a" for e in expected]
    every = cases(expected, [None] * 300)
    b, t = outcomes(base, "b", every), outcomes(tuned, "t", every)
    got = [outcome for outcome, _ in case_records([every], b, t)]
    table = mcnemar(b.correct, t.correct)
    assert got.count("regressed") == table["baseline_only_correct"] > 0
    assert got.count("improved") == table["fine_tuned_only_correct"] > 0
    assert got.count("both_wrong") == table["both_wrong"] > 0
    assert len(got) == 300 - table["both_correct"]


def test_label_codes_of_either_agent_do_not_matter():
    base, tuned = outcomes(BASELINE, "b"), outcomes(FINE_TUNED, "t")
    plain = list(case_records(batches(), base, tuned))
    assert list(case_records(batches(), base.recoded(["z", "b", "a"]), tuned)) == plain


def test_cases_are_read_one_batch_at_a_time():
    pulled: list[int] = []

    def lazily():
        for i, batch in enumerate(batches()):
            pulled.append(i)
            yield batch

    records = case_records(lazily(), outcomes(BASELINE, "b"), outcomes(FINE_TUNED, "t"))
    next(records)
    assert pulled == [0]


@pytest.mark.parametrize(
    "changed",
    [
        lambda b: [b[0]],  # fewer cases than evaluated
        lambda b: [*b, [{"input": "extra", "expected_type": "a"}]],  # more
        lambda b: [[b[0][0], {**b[0][1], "expected_type": "a"}, *b[0][2:]], b[1]],  # other
    ],
)
def test_cases_other_than_the_evaluated_ones_are_refused(changed):
    base, tuned = outcomes(BASELINE, "b"), outcomes(FINE_TUNED, "t")
    with pytest.raises(UnpairedError):
        list(case_records(changed(batches()), base, tuned))
