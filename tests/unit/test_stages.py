"""The streaming stage functions: collect, filter, prepare, fine-tune, evaluate and compare.

The hash split and the kept-row mask are in test_split_and_mask.py, the "auto" training
controls in test_hyperparameters.py.
"""

import json
import math
import random
from collections import Counter

import numpy as np
import pytest

from tuneloop.agent.lab import SYNTHETIC_EXAMPLES, TEST_CASES
from tuneloop.agent.learned import LearnedAgent
from tuneloop.agent.softmax import TrainConfig
from tuneloop.errors import StageError
from tuneloop.schemas.results import ExampleSchema
from tuneloop.stages.collect import collect, synthetic_examples, to_example
from tuneloop.stages.compare import METRICS, improvement, side_by_side
from tuneloop.stages.evaluate import (
    EXAMPLES_KEPT,
    MetricsAccumulator,
    asks_for_lab_cases,
    holdout_cases,
    metrics,
    request_cases,
)
from tuneloop.stages.filter import QualityFilter, malformed
from tuneloop.stages.prepare import (
    HOLDOUT,
    TRAIN,
    VALIDATION,
    SplitCounter,
    chat_lines,
    one_side,
    side_of,
    to_chat_jsonl,
)
from tuneloop.text import normalize, token_f1, tokens
from tuneloop.trainers.softmax_fit import fine_tune, load_data


def ex(text="Will it rain?", output="Which city?", rating=0.9, task="weather", **extra) -> dict:
    return {"input": text, "output": output, "rating": rating, "task_type": task, **extra}


def inputs_on_side(side: str, seed: int, holdout: float | None, prefix: str, n: int) -> list:
    """Return the first n inputs "{prefix} {i}" that the hash split puts on one side."""
    candidates = (f"{prefix} {i}" for i in range(10_000))  # bounded: a side may be empty
    found = [text for text in candidates if side_of(text, seed, holdout) == side][:n]
    assert len(found) == n, f"fewer than {n} of 10,000 inputs on the {side} side"
    return found


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


def test_collect_reads_stored_batches_lazily():
    def stored():
        yield [ex("a")]
        raise AssertionError("read past the first batch")

    batches = collect(stored(), include_synthetic=False)
    assert [e["input"] for e in next(batches)] == ["a"]


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
    assert rules.kept == 3


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
    assert rules.kept == 2
    assert sum(rules.dropped.values()) + rules.kept == len(batch)


@pytest.mark.parametrize(
    ("example", "reason"),
    [
        (ex(rating=float("nan")), "malformed"),
        (ex(rating=1.5), "malformed"),
        (ex(rating=True), "malformed"),
        ({"input": "x", "output": "y", "rating": 0.9}, "malformed"),
        (ex(task=None), "no_task_type"),  # a training file's line without metadata.task_type
        (ex(output=" \t "), "empty"),
        (ex(rating=0.0), "below_min_score"),
        (ex(task="billing"), "task_type_not_selected"),
        (ex("  WILL it rain? "), "in_evaluation_set"),
    ],
)
def test_reason_to_drop_names_the_first_rule_an_example_breaks(example, reason):
    rules = QualityFilter(
        min_score=0.5,
        task_types=frozenset({"weather"}),
        excluded_inputs=frozenset({"will it rain?"}),
    )
    assert rules.reason_to_drop(example) == reason


MALFORMED_OR_NOT = [
    ex(),
    ex(rating=1),
    ex(rating=0),
    ex(rating=float("nan")),
    ex(rating=float("inf")),
    ex(rating=-0.1),
    ex(rating=1.0000001),
    ex(rating=True),
    ex(rating="0.9"),
    ex(rating=None),
    ex(123),
    ex(output=None),
    ex(task=["weather"]),
    {"output": "y", "rating": 0.9, "task_type": "weather"},
    ex(scores={"helpful": 0.5}),
    ex(scores={"helpful": 1}),
    ex(scores={"helpful": float("nan")}),
    ex(scores={"helpful": float("-inf")}),
    ex(scores={"helpful": "0.5"}),
    ex(scores={"helpful": False}),
    ex(scores=["helpful", 0.5]),
    ex(scores=None),
]


@pytest.mark.parametrize("example", MALFORMED_OR_NOT, ids=repr)
def test_the_structural_check_agrees_with_the_example_schema(example: dict) -> None:
    # The filter no longer runs marshmallow per row (issue #13); its check must still drop
    # exactly the rows ExampleSchema refuses.
    expected = bool(ExampleSchema().validate(example))
    assert malformed(example) is expected


def test_a_row_that_is_not_an_object_is_malformed() -> None:
    assert malformed(["Will it rain?", "Which city?", 0.9, "weather"])
    assert QualityFilter(min_score=0.5).reason_to_drop("row") == "malformed"


def test_judge_returns_one_keep_flag_per_example_and_counts():
    rules = QualityFilter(min_score=0.5)
    flags = rules.judge([ex("a"), ex("b", rating=0.1), ex("a"), ex("c")])
    assert flags == [True, False, False, True]
    assert rules.kept == 2
    assert rules.dropped == {"below_min_score": 1, "duplicate": 1}


def test_judge_of_an_empty_batch_is_empty():
    rules = QualityFilter(min_score=0.5)
    assert rules.judge([]) == []
    assert rules.kept == 0
    assert rules.dropped == {}


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


def test_filter_gives_the_same_result_whatever_the_batching():
    rng = random.Random(5)
    examples = [
        ex(f"q{rng.randrange(40)}", f"a{rng.randrange(3)}", rng.random(), rng.choice("xyz"))
        for _ in range(300)
    ]
    whole = QualityFilter(min_score=0.3)
    expected = whole.feed(examples)
    pieces = QualityFilter(min_score=0.3)
    got = [e for start in range(0, 300, 17) for e in pieces.feed(examples[start : start + 17])]
    assert got == expected
    assert pieces.dropped == whole.dropped
    assert pieces.kept == whole.kept == len(expected)


# --- prepare: split counts ----------------------------------------------------------------


def dataset(counts: dict[str, int]) -> list[dict]:
    return [
        ex(f"{task} question {i}", f"{task} answer {i}", 0.9, task)
        for task, n in counts.items()
        for i in range(n)
    ]


COUNTS = {"weather": 40, "travel": 60, "billing": 25, "legal.contracts": 1}


@pytest.mark.parametrize("holdout", [None, 0.3])
def test_split_counter_counts_each_side_per_task_as_the_hash_split_places_it(holdout):
    data = dataset(COUNTS)
    counter = SplitCounter(seed=42, holdout=holdout)
    counter.feed(data)
    for side in (TRAIN, VALIDATION, HOLDOUT):
        expected = Counter(r["task_type"] for r in data if side_of(r["input"], 42, holdout) == side)
        assert counter.counts[side] == expected
    assert sum(sum(c.values()) for c in counter.counts.values()) == len(data)
    assert 0 < sum(counter.counts[VALIDATION].values()) < len(data)
    assert (sum(counter.counts[HOLDOUT].values()) > 0) == (holdout is not None)


def test_split_counter_gives_the_same_counts_fed_in_several_batches():
    data = dataset(COUNTS)
    whole, pieces = SplitCounter(3, 0.25), SplitCounter(3, 0.25)
    assert whole.holdout == 0.25
    whole.feed(data)
    for start in range(0, len(data), 11):
        pieces.feed(iter(data[start : start + 11]))
    pieces.feed([])
    assert pieces.summary({}) == whole.summary({})


def test_summary_counts_train_validation_holdout_and_dropped_in_sorted_order():
    train = inputs_on_side(TRAIN, 1, 0.5, "t", 3)
    valid = inputs_on_side(VALIDATION, 1, 0.5, "v", 1)
    held = inputs_on_side(HOLDOUT, 1, 0.5, "h", 3)
    counter = SplitCounter(seed=1, holdout=0.5)
    counter.feed([ex(train[0]), ex(train[1]), ex(train[2], task="travel")])
    counter.feed([ex(valid[0], task="travel")])
    counter.feed([ex(held[0], task="weather"), ex(held[1], task="billing"), ex(held[2])])
    summary = counter.summary({"duplicate": 2, "below_min_score": 5})
    assert summary == {
        "total_examples": 3,
        "task_distribution": {"travel": 1, "weather": 2},
        "validation_examples": 1,
        "validation_distribution": {"travel": 1},
        "holdout_examples": 3,
        "holdout_distribution": {"billing": 1, "weather": 2},
        "dropped": {"below_min_score": 5, "duplicate": 2},
    }
    assert list(summary["task_distribution"]) == ["travel", "weather"]
    assert list(summary["holdout_distribution"]) == ["billing", "weather"]
    assert list(summary["dropped"]) == ["below_min_score", "duplicate"]


@pytest.mark.parametrize("holdout", [None, 0.3])
def test_summary_of_nothing_is_all_zero(holdout):
    assert SplitCounter(1, holdout).summary({}) == {
        "total_examples": 0,
        "task_distribution": {},
        "validation_examples": 0,
        "validation_distribution": {},
        "holdout_examples": 0,
        "holdout_distribution": {},
        "dropped": {},
    }


@pytest.mark.parametrize("holdout", [None, 0.1, 0.3, 0.9])
@pytest.mark.parametrize("seed", [1, 42])
def test_summary_sides_add_up_to_every_row_fed(seed, holdout):
    data = dataset({"weather": 400, "travel": 300, "billing": 250, "legal.contracts": 1})
    counter = SplitCounter(seed, holdout)
    for start in range(0, len(data), 97):
        counter.feed(data[start : start + 97])
    summary = counter.summary({})
    sides = ("task_distribution", "validation_distribution", "holdout_distribution")
    total = summary["total_examples"] + summary["validation_examples"]
    assert total + summary["holdout_examples"] == len(data)
    per_task = sum((Counter(summary[key]) for key in sides), Counter())
    assert per_task == Counter(r["task_type"] for r in data)
    for key, side in zip(sides, (TRAIN, VALIDATION, HOLDOUT), strict=True):
        assert sum(summary[key].values()) == sum(counter.counts[side].values())
    if holdout is None:
        assert summary["holdout_examples"] == 0
        assert summary["holdout_distribution"] == {}
    else:
        assert summary["holdout_examples"] == pytest.approx(holdout * len(data), rel=0.25)


def test_without_a_holdout_a_fifth_is_counted_as_validation_and_none_held_out():
    counter = SplitCounter(seed=1, holdout=None)
    data = dataset({"weather": 1000, "travel": 1000})
    counter.feed(data)
    summary = counter.summary({})
    assert summary["holdout_examples"] == 0
    assert summary["holdout_distribution"] == {}
    assert summary["validation_examples"] == pytest.approx(0.2 * len(data), abs=0.02 * len(data))
    assert summary["total_examples"] + summary["validation_examples"] == len(data)
    assert counter.untrained_tasks() == []


@pytest.mark.parametrize("holdout", [None, 0.3])
def test_untrained_tasks_are_those_whose_every_example_landed_on_validation(holdout):
    held = inputs_on_side(VALIDATION, 7, holdout, "rare", 2)
    counter = SplitCounter(seed=7, holdout=holdout)
    counter.feed(dataset({"weather": 50, "travel": 50}))
    counter.feed([ex(held[0], task="rare.b"), ex(held[1], task="rare.a")])
    assert counter.untrained_tasks() == ["rare.a", "rare.b"]
    assert counter.summary({})["validation_distribution"]["rare.a"] == 1
    assert "rare.a" not in counter.summary({})["task_distribution"]


def test_untrained_tasks_include_those_whose_every_example_was_held_out():
    held = inputs_on_side(HOLDOUT, 7, 0.3, "rare", 3)
    valid = inputs_on_side(VALIDATION, 7, 0.3, "rare", 1)
    counter = SplitCounter(seed=7, holdout=0.3)
    counter.feed(dataset({"weather": 50, "travel": 50}))
    counter.feed([ex(held[0], task="rare.held"), ex(held[1], task="rare.held")])
    counter.feed([ex(held[2], task="rare.both"), ex(valid[0], task="rare.both")])
    assert counter.untrained_tasks() == ["rare.both", "rare.held"]
    summary = counter.summary({})
    assert summary["holdout_distribution"]["rare.held"] == 2
    assert "rare.held" not in summary["task_distribution"]
    assert "rare.held" not in summary["validation_distribution"]


@pytest.mark.parametrize("holdout", [None, 0.5])
def test_a_task_with_a_training_example_is_not_untrained(holdout):
    trained = inputs_on_side(TRAIN, 7, holdout, "mixed", 1)
    valid = inputs_on_side(VALIDATION, 7, holdout, "mixed", 3)
    held = inputs_on_side(HOLDOUT, 7, 0.5, "mixed", 3) if holdout else []
    counter = SplitCounter(seed=7, holdout=holdout)
    counter.feed([ex(t, task="mixed") for t in held + valid + trained])
    assert counter.untrained_tasks() == []


@pytest.mark.parametrize("holdout", [None, 0.5])
def test_an_input_labelled_with_two_task_types_is_counted_on_one_side_for_both(holdout):
    counter = SplitCounter(seed=11, holdout=holdout)
    data = [ex(f"q{i}", "a", 0.9, task) for i in range(60) for task in ("travel", "general")]
    counter.feed(data)
    for side in (TRAIN, VALIDATION, HOLDOUT):
        assert counter.counts[side]["travel"] == counter.counts[side]["general"]
    assert 0 < counter.counts[VALIDATION]["travel"] < 60
    assert (counter.counts[HOLDOUT]["travel"] > 0) == (holdout is not None)


# --- prepare: one side of the split ---------------------------------------------------------------


def flat(batches) -> list[dict]:
    return [r for b in batches for r in b]


@pytest.mark.parametrize("holdout", [None, 0.25])
def test_the_sides_partition_the_examples(holdout):
    data = dataset(COUNTS)
    batches = [data[i : i + 9] for i in range(0, len(data), 9)]
    sides = {s: flat(one_side(iter(batches), 9, holdout, s)) for s in (TRAIN, VALIDATION, HOLDOUT)}
    assert sum(len(rows) for rows in sides.values()) == len(data)
    everything = [r["input"] for rows in sides.values() for r in rows]
    assert sorted(everything) == sorted(r["input"] for r in data)
    assert len(set(everything)) == len(everything)
    for side, rows in sides.items():
        assert rows == [r for r in data if side_of(r["input"], 9, holdout) == side]  # order kept
    assert (sides[HOLDOUT] != []) == (holdout is not None)


def test_one_side_is_the_training_side_by_default():
    data = dataset(COUNTS)
    assert flat(one_side([data], 9, 0.25)) == flat(one_side([data], 9, 0.25, TRAIN))
    assert flat(one_side([data], 9, None)) == flat(one_side([data], 9, None, TRAIN))


def test_one_side_yields_one_batch_per_batch_read():
    data = dataset({"weather": 30})
    out = list(one_side(iter([data[:10], [], data[10:]]), 2, 0.5))
    assert len(out) == 3
    assert out[1] == []


@pytest.mark.parametrize("side", [TRAIN, VALIDATION, HOLDOUT])
def test_one_side_is_independent_of_batching_and_order(side):
    data = dataset(COUNTS)
    shuffled = data[:]
    random.Random(0).shuffle(shuffled)
    one = flat(one_side([data], 4, 0.3, side))
    other = flat(one_side([shuffled[:50], shuffled[50:]], 4, 0.3, side))
    assert one
    assert sorted(r["input"] for r in one) == sorted(r["input"] for r in other)


def test_without_a_holdout_nothing_is_held_out_and_training_and_validation_are_everything():
    data = dataset(COUNTS)
    assert flat(one_side([data], 1, None, HOLDOUT)) == []
    train, validation = flat(one_side([data], 1, None)), flat(one_side([data], 1, None, VALIDATION))
    assert sorted(r["input"] for r in train + validation) == sorted(r["input"] for r in data)


@pytest.mark.parametrize("holdout", [None, 0.4])
@pytest.mark.parametrize("seed", range(40, 50))
def test_no_two_sides_share_an_input(seed, holdout):
    data = [
        ex(q, f"answer {j}", 0.9, task)
        for task in ("weather", "travel")
        for i in range(60)
        for j, q in enumerate((f"Question {i}", f"  question   {i} "))
    ]
    inputs = {
        side: {normalize(r["input"]) for r in flat(one_side([data], seed, holdout, side))}
        for side in (TRAIN, VALIDATION, HOLDOUT)
    }
    assert inputs[TRAIN]
    assert inputs[VALIDATION]
    assert bool(inputs[HOLDOUT]) == (holdout is not None)
    assert not inputs[TRAIN] & inputs[VALIDATION]
    assert not inputs[HOLDOUT] & (inputs[TRAIN] | inputs[VALIDATION])


# --- prepare: JSONL -----------------------------------------------------------------------


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
            ],
            "metadata": {"task_type": example["task_type"]},
        }
    assert "\u2603" in lines[1]  # not escaped


def test_chat_jsonl_of_no_examples_is_empty():
    assert to_chat_jsonl([]) == ""
    assert list(chat_lines([[], []])) == []


def test_chat_lines_stream_one_line_per_example_across_batches():
    batches = [[ex("a", "1"), ex("b", "2")], [], [ex("c", "3")]]
    lines = list(chat_lines(iter(batches)))
    assert len(lines) == 3
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    assert [json.loads(line)["messages"][0]["content"] for line in lines] == ["a", "b", "c"]
    assert "".join(lines) == to_chat_jsonl(flat(batches))


# --- fine-tune ----------------------------------------------------------------------------

CONFIG = TrainConfig(
    n_epochs=3, learning_rate=0.5, batch_size=4, seed=1, l2=1e-6, early_stopping_patience=None
)
WORDS = {"weather": ["rain", "snow", "forecast"], "billing": ["invoice", "refund", "payment"]}


def training_examples() -> list[dict]:
    return [
        ex(f"question about {w} number {i}", f"{task} answer {i}", 0.8 + i / 100, task)
        for task, ws in WORDS.items()
        for w in ws
        for i in range(6)
    ]


@pytest.mark.parametrize("holdout", [None, 0.5])
def test_load_data_with_one_trained_task_type_fails_with_too_few_task_types(holdout):
    train = inputs_on_side(TRAIN, 3, holdout, "rain", 5)
    valid = inputs_on_side(VALIDATION, 3, holdout, "snow", 1)
    batch = [ex(t) for t in train] + [ex(valid[0], task="travel")]
    if holdout is not None:
        batch += [ex(t, task="billing") for t in inputs_on_side(HOLDOUT, 3, holdout, "hail", 3)]
    with pytest.raises(StageError) as info:
        load_data([batch], 3, holdout)
    assert info.value.code == "too_few_task_types"


@pytest.mark.parametrize("holdout", [None, 0.3])
def test_load_data_never_trains_on_validation_rows(holdout):
    data = training_examples()
    loaded = load_data([data[:10], data[10:]], 2, holdout)
    train = [e for e in data if side_of(e["input"], 2, holdout) == TRAIN]
    validation = [e for e in data if side_of(e["input"], 2, holdout) == VALIDATION]
    assert validation
    assert loaded.classes == ["billing", "weather"]
    assert len(loaded.train) == len(train)
    assert len(loaded.validation) == len(validation)
    labels = [loaded.classes[i] for i in loaded.train_labels]
    assert labels == [e["task_type"] for e in train]
    assert [loaded.classes[i] for i in loaded.validation_labels] == [
        e["task_type"] for e in validation
    ]
    # The response memory is built from the training side only.
    remembered = {r["input"] for rows in loaded.memory.values() for r in rows}
    assert remembered == {e["input"] for e in train}


@pytest.mark.parametrize("holdout", [None, 0.5])
def test_load_data_keeps_a_task_seen_only_in_validation_as_a_class(holdout):
    train = inputs_on_side(TRAIN, 5, holdout, "t", 4)
    held = inputs_on_side(VALIDATION, 5, holdout, "v", 1)
    batch = [
        ex(train[0]),
        ex(train[1]),
        ex(train[2], task="billing"),
        ex(train[3], task="billing"),
        ex(held[0], task="travel"),
    ]
    loaded = load_data([batch], 5, holdout)
    assert loaded.classes == ["billing", "travel", "weather"]
    assert list(loaded.validation_labels) == [1]
    assert "travel" not in loaded.memory


def many_examples(n: int) -> list[dict]:
    """Rows of both task types; a third of the weather inputs come again, respelled, as billing."""
    rows = [
        ex(f"question about {WORDS[task][i % 3]} number {i}", f"{task} answer {i}", 0.9, task)
        for task in WORDS
        for i in range(n)
    ]
    respelled = [f"  QUESTION about rain number {i} " for i in range(0, n, 3)]
    rows += [ex(text, "billing answer", 0.9, "billing") for text in respelled]
    return rows


@pytest.mark.parametrize("holdout", [0.1, 0.3, 0.6])
@pytest.mark.parametrize("seed", [2, 9])
def test_load_data_with_a_holdout_leaves_every_held_out_row_out(seed, holdout):
    data = many_examples(200)
    sides = [side_of(e["input"], seed, holdout) for e in data]
    held = [e for e, s in zip(data, sides, strict=True) if s == HOLDOUT]
    kept = [e for e, s in zip(data, sides, strict=True) if s != HOLDOUT]
    train = [e for e, s in zip(data, sides, strict=True) if s == TRAIN]
    assert held
    loaded = load_data([data[i : i + 50] for i in range(0, len(data), 50)], seed, holdout)
    # Counting rows: the two banks hold exactly the rows that are not held out.
    assert len(loaded.train) + len(loaded.validation) == len(kept)
    assert len(loaded.train) == len(train)
    assert len(loaded.train_labels) + len(loaded.validation_labels) == len(kept)
    remembered = {normalize(r["input"]) for rows in loaded.memory.values() for r in rows}
    assert remembered
    assert remembered <= {normalize(e["input"]) for e in train}
    assert not remembered & {normalize(e["input"]) for e in held}


def test_load_data_does_not_make_a_class_of_a_task_seen_only_in_the_holdout():
    train = inputs_on_side(TRAIN, 5, 0.5, "t", 4)
    held = inputs_on_side(HOLDOUT, 5, 0.5, "h", 2)
    batch = [
        ex(train[0]),
        ex(train[1]),
        ex(train[2], task="billing"),
        ex(train[3], task="billing"),
        ex(held[0], task="travel"),
        ex(held[1], task="travel"),
    ]
    loaded = load_data([batch], 5, 0.5)
    assert loaded.classes == ["billing", "weather"]
    assert len(loaded.train) == 4
    assert len(loaded.validation) == 0
    assert "travel" not in loaded.memory


def test_fine_tune_returns_a_loadable_agent_and_reports_each_epoch():
    data = load_data([training_examples()], 1, None)
    epochs = []
    agent, state = fine_tune(data, CONFIG, "ft-abc", on_epoch=epochs.append)
    assert agent.model_id == "ft-abc"
    assert agent.describe()["task_types"] == ["billing", "weather"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert all(math.isfinite(e["train_loss"]) and math.isfinite(e["valid_loss"]) for e in epochs)
    assert state.epoch == 3
    assert state.history == epochs
    loaded = LearnedAgent.load("ft-abc", agent.save())
    assert loaded.respond("is the forecast rain").task_type == "weather"
    assert loaded.respond("refund my invoice").task_type == "billing"


def test_fine_tune_is_deterministic_for_the_same_data_and_controls():
    first, _ = fine_tune(load_data([training_examples()], 1, None), CONFIG, "ft-a")
    second, _ = fine_tune(load_data([training_examples()], 1, None), CONFIG, "ft-a")
    assert np.array_equal(first.router.weights, second.router.weights)
    assert first.save() == second.save()


def test_fine_tune_without_validation_reports_no_validation_loss():
    # Every split has a validation band now, so take only rows that land on training.
    rows = [e for e in training_examples() if side_of(e["input"], 1, None) == TRAIN]
    data = load_data([rows], 1, None)
    assert len(data.validation) == 0
    epochs = []
    config = TrainConfig(2, 0.5, 4, 1, 1e-6, 1)
    fine_tune(data, config, "ft-y", on_epoch=epochs.append)
    assert [e["valid_loss"] for e in epochs] == [None, None]


# --- evaluate: cases ----------------------------------------------------------------------


def test_request_cases_are_the_lab_five_only_when_asked_for():
    assert request_cases(None) == [] and request_cases([]) == []
    cases = request_cases(None, lab=True)
    assert cases == [dict(c) for c in TEST_CASES]
    assert len(cases) == 5
    cases[0]["input"] = "changed"
    assert TEST_CASES[0]["input"] != "changed"


def test_request_cases_use_the_job_eval_set_instead_of_the_lab_cases():
    eval_set = [{"input": "Refund?", "expected_type": "billing"}]
    cases = request_cases(eval_set)
    assert cases == eval_set
    cases[0]["input"] = "changed"
    assert eval_set[0]["input"] == "Refund?"
    assert request_cases([], lab=True) == [dict(c) for c in TEST_CASES]
    assert request_cases(eval_set, lab=True) == [*eval_set, *map(dict, TEST_CASES)]


def test_only_a_request_from_before_lab_eval_set_existed_gets_the_lab_cases_unasked():
    assert asks_for_lab_cases({"lab_eval_set": True, "holdout_fraction": 0.2})
    assert not asks_for_lab_cases({"lab_eval_set": False})
    assert asks_for_lab_cases({"min_score": 0.8})  # stored before: no eval set, no holdout
    assert not asks_for_lab_cases({"eval_set_size": 3})
    assert asks_for_lab_cases({"holdout_fraction": 0.25})  # then: the lab's cases and the holdout


def test_holdout_cases_use_the_example_output_as_reference_batch_by_batch():
    batches = [
        [ex("Where is my refund?", "Within 5 days.", 0.9, "billing", source="human", id="i-1")],
        [],
        [ex("Rain?", "Which city?"), ex("Snow?", "Where?")],
    ]
    out = list(holdout_cases(iter(batches)))
    assert [len(b) for b in out] == [1, 0, 2]
    assert out[0][0] == {
        "input": "Where is my refund?",
        "expected_type": "billing",
        "reference_output": "Within 5 days.",
    }
    assert [c["input"] for c in out[2]] == ["Rain?", "Snow?"]


# --- evaluate: metrics --------------------------------------------------------------------


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
            "response_chrf": None,
            "overall_score": 1.0,
        },
        "weather": {
            "n_cases": 2,
            "average_confidence": pytest.approx(0.7),
            "task_accuracy": 0.5,
            "response_quality": None,
            "response_chrf": None,
            "overall_score": 0.5,
        },
    }
    assert list(result["by_task_type"]) == ["travel", "weather"]


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

    cases = request_cases(None, lab=True)
    agent = KeywordAgent()
    result = metrics(cases, [agent.respond(c["input"]).to_dict() for c in cases])
    assert result["task_accuracy"] == pytest.approx(0.8)
    assert result["average_confidence"] == pytest.approx((0.75 + 0.9 + 0.5 + 0.5 + 0.75) / 5)
    assert 0 < result["response_quality"] < 1
    assert set(result["by_task_type"]) == {"general", "travel", "weather"}


def test_metrics_need_one_answer_per_case():
    with pytest.raises(ValueError):
        metrics([{"input": "1", "expected_type": "a"}], [answer("a"), answer("a")])


def random_cases(n: int, seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    cases, answers = [], []
    for i in range(n):
        task = rng.choice(["weather", "travel", "billing"])
        case = {"input": f"q{i}", "expected_type": task}
        if rng.random() < 0.6:
            case["reference_output"] = rng.choice(["rain in oslo", "book a flight", "refund"])
        cases.append(case)
        answers.append(
            answer(
                rng.choice(["weather", "travel", "billing"]),
                rng.choice(["rain today", "flight booked", "a refund", "hello"]),
                round(rng.random(), 3),
            )
        )
    return cases, answers


def test_metrics_added_in_several_batches_equal_metrics_of_one_batch():
    cases, answers = random_cases(250, 3)
    acc = MetricsAccumulator()
    for start, stop in ((0, 1), (1, 90), (90, 90), (90, 250)):
        acc.add(cases[start:stop], answers[start:stop])
    assert acc.result() == metrics(cases, answers)
    assert acc.result()["n_cases"] == 250
    assert sum(v["n_cases"] for v in acc.result()["by_task_type"].values()) == 250


def test_metrics_by_task_type_equal_metrics_of_that_task_alone():
    cases, answers = random_cases(120, 4)
    result = metrics(cases, answers)
    for task, values in result["by_task_type"].items():
        pairs = [(c, a) for c, a in zip(cases, answers, strict=True) if c["expected_type"] == task]
        alone = metrics([c for c, _ in pairs], [a for _, a in pairs])
        del alone["by_task_type"]
        assert values == pytest.approx(alone)


def test_accumulator_keeps_the_first_ten_answers_across_batches():
    cases, answers = random_cases(25, 5)
    acc = MetricsAccumulator()
    acc.add(cases[:4], answers[:4])
    acc.add(cases[4:25], answers[4:25])
    assert EXAMPLES_KEPT == 10
    assert acc.first_answers == [
        {"case": c, "answer": a} for c, a in zip(cases[:10], answers[:10], strict=True)
    ]


def test_accumulator_keeps_every_answer_of_a_suite_shorter_than_ten():
    cases, answers = random_cases(3, 6)
    acc = MetricsAccumulator()
    acc.add(cases, answers)
    assert [e["case"]["input"] for e in acc.first_answers] == ["q0", "q1", "q2"]


def test_accumulator_rejects_a_batch_with_another_number_of_answers():
    with pytest.raises(ValueError):
        MetricsAccumulator().add([{"input": "1", "expected_type": "a"}] * 2, [answer("a")])


# --- text ---------------------------------------------------------------------------------


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
