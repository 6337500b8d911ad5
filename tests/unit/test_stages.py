"""The pure stage functions: collect, filter, prepare, fine-tune, evaluate and compare."""

import json
import math
import random
from collections import Counter

import pytest

from tuneloop.agent.lab import SYNTHETIC_EXAMPLES, TEST_CASES
from tuneloop.agent.learned import MODEL_FORMAT, LearnedAgent
from tuneloop.agent.router import Hyperparameters
from tuneloop.errors import StageError
from tuneloop.stages.collect import collect, synthetic_examples, to_example
from tuneloop.stages.compare import METRICS, improvement, side_by_side
from tuneloop.stages.evaluate import evaluation_cases, metrics
from tuneloop.stages.filter import QualityFilter
from tuneloop.stages.fine_tune import fine_tune
from tuneloop.stages.prepare import split, summarize, to_chat_jsonl
from tuneloop.stages.text import normalize, token_f1, tokens


def ex(text="Will it rain?", output="Which city?", rating=0.9, task="weather", **extra) -> dict:
    return {"input": text, "output": output, "rating": rating, "task_type": task, **extra}


# --- collect ------------------------------------------------------------------------------


def test_collect_yields_the_five_lab_examples_first_when_asked():
    stored = [[ex("a"), ex("b")], [ex("c")]]
    batches = list(collect(iter(stored), include_synthetic=True))
    assert len(batches) == 3
    first = batches[0]
    assert len(first) == 5
    assert [e["input"] for e in first] == [s["input"] for s in SYNTHETIC_EXAMPLES]
    assert {e["source"] for e in first} == {"synthetic"}
    assert [e["id"] for e in first] == [f"lab-synthetic-{i}" for i in range(1, 6)]
    assert [e["input"] for b in batches[1:] for e in b] == ["a", "b", "c"]


def test_collect_without_synthetic_yields_only_stored_batches():
    stored = [[ex("a")], [ex("b"), ex("c")]]
    batches = list(collect(iter(stored), include_synthetic=False))
    assert [[e["input"] for e in b] for b in batches] == [["a"], ["b", "c"]]
    assert all(e["source"] != "synthetic" for b in batches for e in b)


def test_collect_with_no_stored_interactions_yields_only_synthetic_or_nothing():
    assert [len(b) for b in collect(iter([]), include_synthetic=True)] == [5]
    assert list(collect(iter([]), include_synthetic=False)) == []


def test_to_example_keeps_training_fields_id_and_source_only():
    row = {**ex(), "id": "int-1", "source": "import", "metadata": {"x": 1}, "created_at": 5}
    assert to_example(row) == {**ex(), "id": "int-1", "source": "import"}


def test_to_example_defaults_source_to_human_and_id_to_none():
    assert to_example(ex()) == {**ex(), "source": "human", "id": None}


def test_synthetic_examples_are_fresh_copies():
    first = synthetic_examples()
    first[0]["rating"] = 0.0
    assert synthetic_examples()[0]["rating"] == SYNTHETIC_EXAMPLES[0]["rating"] == 0.9


# --- filter -------------------------------------------------------------------------------


def test_filter_keeps_good_examples_in_order():
    rules = QualityFilter(min_score=0.8)
    batch = [ex("a"), ex("b", task="travel"), ex("c", rating=0.8)]
    assert rules.feed(batch) == batch
    assert rules.dropped == Counter()


def test_filter_drops_each_reason_and_counts_it():
    rules = QualityFilter(
        min_score=0.8,
        task_types=frozenset({"weather", "travel"}),
        excluded_inputs=frozenset({normalize("How's the weather in London?")}),
    )
    batch = [
        ex("keep me"),
        ex("low", rating=0.79),
        ex("low too", rating=0.1),
        ex("other task", task="billing"),
        ex("keep me"),  # duplicate of the first
        ex("   ", output="x"),
        ex("x", output="\n"),
        ex("x", task=" "),
        {"input": "no output", "rating": 0.9, "task_type": "weather"},
        ex("bad rating", rating="0.9"),
        ex("bad rating", rating=None),
        ex(123),
        ex("how's  the WEATHER in london?"),
        ex("keep me too", task="travel"),
    ]
    kept = rules.feed(batch)
    assert [k["input"] for k in kept] == ["keep me", "keep me too"]
    assert rules.dropped == {
        "below_min_score": 2,
        "task_type_not_selected": 1,
        "duplicate": 1,
        "empty": 3,
        "malformed": 4,
        "in_evaluation_set": 1,
    }
    assert sum(rules.dropped.values()) + len(kept) == len(batch)


def test_filter_min_score_is_inclusive():
    rules = QualityFilter(min_score=0.85)
    assert rules.feed([ex("a", rating=0.85), ex("b", rating=0.8499)]) == [ex("a", rating=0.85)]
    assert rules.dropped == {"below_min_score": 1}


def test_filter_without_task_types_keeps_every_task():
    rules = QualityFilter(min_score=0.0)
    batch = [ex(t, task=t) for t in ("weather", "billing", "legal.contracts")]
    assert rules.feed(batch) == batch


def test_filter_keeps_the_same_pair_labelled_with_another_task():
    rules = QualityFilter(min_score=0.0)
    both = [ex("a", task="weather"), ex("a", task="travel")]
    assert rules.feed(both) == both
    assert rules.dropped == {}


def test_filter_duplicates_ignore_case_and_whitespace_and_span_batches():
    rules = QualityFilter(min_score=0.5)
    assert len(rules.feed([ex("Will it  rain?", "Which city?")])) == 1
    assert rules.feed([ex("will it rain?", "which  CITY?")]) == []
    assert rules.dropped == {"duplicate": 1}


def test_filter_keeps_the_same_input_with_a_different_output():
    rules = QualityFilter(min_score=0.5)
    assert len(rules.feed([ex("Will it rain?", "Which city?"), ex("Will it rain?", "Where?")])) == 2


def test_filter_does_not_let_a_dropped_example_mark_a_later_one_duplicate():
    rules = QualityFilter(min_score=0.8)
    kept = rules.feed([ex("a", rating=0.1), ex("a", rating=0.9)])
    assert kept == [ex("a", rating=0.9)]
    assert rules.dropped == {"below_min_score": 1}


def test_filter_checks_rating_before_task_type_and_duplicates():
    rules = QualityFilter(min_score=0.8, task_types=frozenset({"travel"}))
    rules.feed([ex("a", rating=0.1, task="weather")])
    assert rules.dropped == {"below_min_score": 1}


# --- prepare: split -----------------------------------------------------------------------


def dataset(counts: dict[str, int]) -> list[dict]:
    return [
        ex(f"{task} question {i}", f"{task} answer {i}", 0.9, task)
        for task, n in counts.items()
        for i in range(n)
    ]


COUNTS = {"weather": 10, "travel": 20, "billing": 5, "legal.contracts": 1}


def test_split_is_deterministic_for_a_seed():
    data = dataset(COUNTS)
    assert split(data, 0.2, 42) == split(data, 0.2, 42)


def test_split_differs_between_seeds():
    data = dataset(COUNTS)
    assert split(data, 0.2, 1)[1] != split(data, 0.2, 2)[1]


def test_split_is_independent_of_input_order():
    data = dataset(COUNTS)
    shuffled = data[:]
    random.Random(0).shuffle(shuffled)
    assert split(shuffled, 0.2, 42) == split(data, 0.2, 42)
    assert split(list(reversed(data)), 0.3, 7) == split(data, 0.3, 7)


def test_split_respects_the_validation_fraction_per_task():
    train, validation = split(dataset(COUNTS), 0.2, 42)
    assert Counter(r["task_type"] for r in validation) == {"weather": 2, "travel": 4, "billing": 1}
    assert Counter(r["task_type"] for r in train) == {
        "weather": 8,
        "travel": 16,
        "billing": 4,
        "legal.contracts": 1,
    }


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_split_keeps_at_least_one_training_example_per_task(fraction):
    counts = {"a": 1, "b": 2, "c": 3, "d": 10}
    train, validation = split(dataset(counts), fraction, 3)
    assert set(Counter(r["task_type"] for r in train)) == set(counts)
    for task, n in counts.items():
        n_val = sum(r["task_type"] == task for r in validation)
        assert n_val == min(round(n * fraction), n - 1)


def test_split_partitions_the_examples():
    data = dataset(COUNTS)
    train, validation = split(data, 0.25, 9)
    assert len(train) + len(validation) == len(data)
    assert sorted(r["input"] for r in train + validation) == sorted(r["input"] for r in data)
    assert not {r["input"] for r in train} & {r["input"] for r in validation}


def test_split_with_zero_fraction_trains_on_everything():
    data = dataset(COUNTS)
    train, validation = split(data, 0.0, 1)
    assert validation == []
    assert len(train) == len(data)


def test_split_of_one_task_is_not_affected_by_other_tasks():
    alone = split(dataset({"weather": 10}), 0.3, 5)
    mixed = split(dataset({"weather": 10, "travel": 7}), 0.3, 5)
    keep = lambda rows: [r for r in rows if r["task_type"] == "weather"]  # noqa: E731
    assert keep(mixed[0]) == alone[0]
    assert keep(mixed[1]) == alone[1]


@pytest.mark.parametrize("seed", range(40, 60))
def test_split_never_puts_the_same_input_in_train_and_validation(seed):
    data = [
        ex(f"question {i}", f"answer {j}", 0.9, task)
        for task in ("weather", "travel")
        for i in range(5)
        for j in range(2)
    ]
    train, validation = split(data, 0.5, seed)
    assert validation
    assert not {normalize(r["input"]) for r in train} & {normalize(r["input"]) for r in validation}


@pytest.mark.parametrize("seed", range(40, 60))
def test_split_keeps_an_input_labelled_with_two_task_types_on_one_side(seed):
    data = [ex(f"q{i}", "a", 0.9, task) for i in range(10) for task in ("travel", "general")]
    train, validation = split(data, 0.3, seed)
    assert validation
    assert not {r["input"] for r in train} & {r["input"] for r in validation}


# --- prepare: summarize and JSONL ---------------------------------------------------------


def test_summarize_counts_train_validation_and_dropped():
    train = [ex("a"), ex("b"), ex("c", task="travel")]
    validation = [ex("d", task="travel")]
    summary = summarize(train, validation, {"duplicate": 2, "below_min_score": 5})
    assert summary == {
        "total_examples": 3,
        "task_distribution": {"travel": 1, "weather": 2},
        "validation_examples": 1,
        "validation_distribution": {"travel": 1},
        "dropped": {"below_min_score": 5, "duplicate": 2},
    }
    assert list(summary["task_distribution"]) == ["travel", "weather"]
    assert list(summary["dropped"]) == ["below_min_score", "duplicate"]


def test_summarize_of_nothing_is_all_zero():
    assert summarize([], [], {}) == {
        "total_examples": 0,
        "task_distribution": {},
        "validation_examples": 0,
        "validation_distribution": {},
        "dropped": {},
    }


def test_chat_jsonl_has_one_user_assistant_conversation_per_line():
    examples = [
        ex("Will it rain?", "Which city?"),
        ex('Quote "this"\nand a new line', "Caf\u00e9 \u2603 \U0001f600", task="travel"),
    ]
    text = to_chat_jsonl(examples)
    assert text.endswith("\n")
    lines = text.splitlines()
    assert len(lines) == 2
    for line, example in zip(lines, examples, strict=True):
        assert json.loads(line) == {
            "messages": [
                {"role": "user", "content": example["input"]},
                {"role": "assistant", "content": example["output"]},
            ]
        }
    assert "\u2603" in lines[1]  # not escaped


def test_chat_jsonl_of_no_examples_is_empty():
    assert to_chat_jsonl([]) == ""


# --- fine-tune ----------------------------------------------------------------------------


def test_fine_tune_with_one_task_type_fails_with_too_few_task_types():
    train = [ex(f"rain {i}") for i in range(5)]
    validation = [ex("snow", task="travel")]
    with pytest.raises(StageError) as info:
        fine_tune(train, validation, Hyperparameters(n_epochs=1), "ft-x")
    assert info.value.code == "too_few_task_types"


def test_fine_tune_returns_a_loadable_agent_and_reports_each_epoch():
    words = {"weather": ["rain", "snow", "forecast"], "billing": ["invoice", "refund", "payment"]}
    train = [
        ex(f"question about {w} number {i}", f"{task} answer {i}", 0.8 + i / 100, task)
        for task, ws in words.items()
        for w in ws
        for i in range(3)
    ]
    validation = [ex("is there snow", task="weather"), ex("my refund", task="billing")]
    epochs = []
    hp = Hyperparameters(n_epochs=3, learning_rate=0.5, batch_size=4, seed=1)
    body = fine_tune(train, validation, hp, "ft-abc", lambda *args: epochs.append(args))
    assert body["format"] == MODEL_FORMAT
    assert body["model_id"] == "ft-abc"
    assert body["router"]["classes"] == ["billing", "weather"]
    assert [e[0] for e in epochs] == [1, 2, 3]
    assert all(math.isfinite(e[1]) and math.isfinite(e[2]) for e in epochs)
    # The memory is built from the training split only.
    remembered = {r["input"] for rows in body["memory"].values() for r in rows}
    assert remembered == {e["input"] for e in train}
    agent = LearnedAgent.from_dict(json.loads(json.dumps(body)))
    assert agent.respond("is the forecast rain").task_type == "weather"
    assert agent.respond("refund my invoice").task_type == "billing"
    assert fine_tune(train, validation, hp, "ft-abc") == body


def test_fine_tune_without_validation_reports_no_validation_loss():
    train = [ex(f"rain {i}", task="weather") for i in range(3)]
    train += [ex(f"invoice {i}", task="billing") for i in range(3)]
    epochs = []
    fine_tune(train, [], Hyperparameters(n_epochs=2), "ft-y", lambda *a: epochs.append(a))
    assert [e[2] for e in epochs] == [None, None]


# --- evaluate -----------------------------------------------------------------------------


def test_evaluation_cases_default_to_the_lab_five():
    cases = evaluation_cases(None, None)
    assert cases == [dict(c) for c in TEST_CASES]
    assert len(cases) == 5
    cases[0]["input"] = "changed"
    assert TEST_CASES[0]["input"] != "changed"


def test_evaluation_cases_use_the_job_eval_set_instead_of_the_lab_cases():
    eval_set = [{"input": "Refund?", "expected_type": "billing"}]
    assert evaluation_cases(eval_set, None) == eval_set
    assert evaluation_cases([], None) == [dict(c) for c in TEST_CASES]


def test_evaluation_cases_append_holdout_examples_with_their_output_as_reference():
    holdout = [ex("Where is my refund?", "Within 5 days.", 0.9, "billing", source="human")]
    cases = evaluation_cases(None, holdout)
    assert len(cases) == 6
    assert cases[:5] == [dict(c) for c in TEST_CASES]
    assert cases[5] == {
        "input": "Where is my refund?",
        "expected_type": "billing",
        "reference_output": "Within 5 days.",
    }


def answer(task, text="x", confidence=0.5) -> dict:
    return {"text": text, "task_type": task, "confidence": confidence, "reasoning": "r"}


def test_metrics_without_references_use_task_accuracy_as_overall():
    cases = [
        {"input": "1", "expected_type": "weather"},
        {"input": "2", "expected_type": "weather"},
        {"input": "3", "expected_type": "travel"},
        {"input": "4", "expected_type": "travel"},
    ]
    answers = [
        answer("weather", confidence=0.9),
        answer("general", confidence=0.5),
        answer("travel", confidence=0.7),
        answer("travel", confidence=0.6),
    ]
    result = metrics(cases, answers)
    assert result["n_cases"] == 4
    assert result["task_accuracy"] == pytest.approx(0.75)
    assert result["average_confidence"] == pytest.approx(0.675)
    assert result["response_quality"] is None
    assert result["overall_score"] == pytest.approx(0.75)
    assert result["by_task_type"] == {
        "travel": {
            "n_cases": 2,
            "average_confidence": pytest.approx(0.65),
            "task_accuracy": 1.0,
            "response_quality": None,
            "overall_score": 1.0,
        },
        "weather": {
            "n_cases": 2,
            "average_confidence": pytest.approx(0.7),
            "task_accuracy": 0.5,
            "response_quality": None,
            "overall_score": 0.5,
        },
    }


def test_metrics_with_references_average_accuracy_and_token_f1():
    cases = [
        {"input": "1", "expected_type": "weather", "reference_output": "rain in oslo today"},
        {"input": "2", "expected_type": "weather", "reference_output": "sunny"},
        {"input": "3", "expected_type": "travel"},  # no reference: counts for accuracy only
    ]
    answers = [
        answer("weather", "rain in oslo"),  # F1: p=1, r=3/4 -> 6/7
        answer("travel", "cloudy"),  # F1 0, wrong task
        answer("travel", "anything"),
    ]
    result = metrics(cases, answers)
    quality = (6 / 7 + 0.0) / 2
    assert result["task_accuracy"] == pytest.approx(2 / 3)
    assert result["response_quality"] == pytest.approx(quality)
    assert result["overall_score"] == pytest.approx((2 / 3 + quality) / 2)
    weather = result["by_task_type"]["weather"]
    assert weather["task_accuracy"] == 0.5
    assert weather["response_quality"] == pytest.approx(quality)
    assert weather["overall_score"] == pytest.approx((0.5 + quality) / 2)
    assert result["by_task_type"]["travel"]["response_quality"] is None
    assert "by_task_type" not in weather


def test_metrics_of_the_baseline_on_the_lab_cases():
    from tuneloop.agent.baseline import KeywordAgent

    cases = evaluation_cases(None, None)
    agent = KeywordAgent()
    result = metrics(cases, [agent.respond(c["input"]).to_dict() for c in cases])
    assert result["task_accuracy"] == pytest.approx(0.8)
    assert result["average_confidence"] == pytest.approx((0.75 + 0.9 + 0.5 + 0.5 + 0.75) / 5)
    assert 0 < result["response_quality"] < 1
    assert set(result["by_task_type"]) == {"general", "travel", "weather"}


def test_metrics_need_one_answer_per_case():
    with pytest.raises(ValueError):
        metrics([{"input": "1", "expected_type": "a"}], [answer("a"), answer("a")])


@pytest.mark.parametrize(
    ("candidate", "reference", "expected"),
    [
        ("the cat sat", "the cat sat", 1.0),
        ("The CAT, sat!", "the cat sat", 1.0),
        ("dog", "cat", 0.0),
        ("", "cat", 0.0),
        ("a a b", "a b b", 2 / 3),
    ],
)
def test_token_f1(candidate, reference, expected):
    assert token_f1(candidate, reference) == pytest.approx(expected)


def test_tokens_and_normalize():
    assert tokens("What's UP, doc 42?") == ["what's", "up", "doc", "42"]
    assert normalize("  Hello \t  WORLD\n") == "hello world"


# --- compare ------------------------------------------------------------------------------


def test_improvement_gives_absolute_and_relative_change():
    base = {
        "average_confidence": 0.5,
        "task_accuracy": 0.8,
        "response_quality": 0.25,
        "overall_score": 0.4,
    }
    tuned = {
        "average_confidence": 0.75,
        "task_accuracy": 0.6,
        "response_quality": 0.5,
        "overall_score": 0.6,
    }
    change = improvement(base, tuned)
    assert set(change) == set(METRICS)
    assert change["average_confidence"] == {
        "absolute": pytest.approx(0.25),
        "relative": pytest.approx(0.5),
    }
    assert change["task_accuracy"] == {
        "absolute": pytest.approx(-0.2),
        "relative": pytest.approx(-0.25),
    }
    assert change["response_quality"] == {"absolute": 0.25, "relative": 1.0}
    assert change["overall_score"]["relative"] == pytest.approx(0.5)


def test_improvement_relative_is_none_from_a_zero_baseline():
    base = {name: 0.0 for name in METRICS}
    tuned = {name: 0.5 for name in METRICS}
    change = improvement(base, tuned)
    assert all(change[name] == {"absolute": 0.5, "relative": None} for name in METRICS)


def test_improvement_is_none_when_a_metric_is_missing():
    base = {"task_accuracy": 0.5, "response_quality": None}
    tuned = {"task_accuracy": 1.0, "response_quality": 0.7}
    change = improvement(base, tuned)
    assert change["task_accuracy"] == {"absolute": 0.5, "relative": 1.0}
    assert change["response_quality"] == {"absolute": None, "relative": None}
    assert change["overall_score"] == {"absolute": None, "relative": None}


def test_side_by_side_pairs_both_answers_of_the_same_input():
    cases = [{"input": f"q{i}", "expected_type": "weather"} for i in range(3)]
    base = [answer("general", f"base {i}", 0.5) for i in range(3)]
    tuned = [answer("weather", f"tuned {i}", 0.9) for i in range(3)]
    pairs = side_by_side(cases, base, tuned)
    assert len(pairs) == 3
    assert pairs[1] == {
        "input": "q1",
        "expected_type": "weather",
        "baseline": {"text": "base 1", "task_type": "general", "confidence": 0.5},
        "fine_tuned": {"text": "tuned 1", "task_type": "weather", "confidence": 0.9},
    }


def test_side_by_side_keeps_the_first_cases_up_to_the_limit():
    cases = [{"input": f"q{i}", "expected_type": "a"} for i in range(15)]
    answers = [answer("a", f"t{i}") for i in range(15)]
    assert [p["input"] for p in side_by_side(cases, answers, answers)] == [
        f"q{i}" for i in range(10)
    ]
    assert len(side_by_side(cases, answers, answers, limit=3)) == 3


def test_side_by_side_rejects_answer_lists_of_another_length():
    cases = [{"input": "q", "expected_type": "a"}] * 2
    with pytest.raises(ValueError):
        side_by_side(cases, [answer("a")] * 2, [answer("a")])
