"""The hash split (train / validation / holdout sides) and the packed kept-row mask."""

import random
from collections import Counter

import pytest

from tuneloop.pipeline.data import split_of
from tuneloop.stages.filter import MaskWriter, QualityFilter, select
from tuneloop.stages.prepare import (
    DEFAULT_VALIDATION_FRACTION,
    HOLDOUT,
    TRAIN,
    VALIDATION,
    SplitCounter,
    StratifiedHoldout,
    held_from_bytes,
    held_to_bytes,
    in_validation,
    side_of,
    unit,
)
from tuneloop.text import normalize

INPUTS = [f"question number {i} about something" for i in range(10_000)]


def validation_share(seed: int, fraction: float, inputs=INPUTS) -> float:
    return sum(in_validation(text, seed, fraction) for text in inputs) / len(inputs)


# --- split --------------------------------------------------------------------------------


def test_default_validation_fraction_is_a_fifth():
    assert DEFAULT_VALIDATION_FRACTION == 0.2


def test_same_input_and_seed_always_land_on_the_same_side():
    first = [in_validation(text, 42, 0.3) for text in INPUTS[:500]]
    second = [in_validation(text, 42, 0.3) for text in INPUTS[:500]]
    assert first == second
    assert 0 < sum(first) < 500  # both sides are used


@pytest.mark.parametrize("seed", range(20))
def test_inputs_equal_after_normalization_land_on_the_same_side(seed):
    variants = [
        "Will it rain in Oslo?",
        "will it rain in oslo?",
        "  WILL it   rain\tin OSLO?\n",
        "Will\u00a0it rain in Oslo?",  # a no-break space is whitespace too
    ]
    sides = {in_validation(v, seed, 0.5) for v in variants}
    assert len(sides) == 1


@pytest.mark.parametrize("holdout", [None, 0.3])
@pytest.mark.parametrize("seed", range(20))
def test_side_depends_only_on_the_input_not_on_task_or_output(seed, holdout):
    # side_of takes only the input: the same input labelled with two task types (or
    # answered twice) can never be both trained on and evaluated.
    rows = [
        {"input": f"q{i}", "task_type": task}
        for i in range(30)
        for task in ("travel", "general", "weather")
    ]
    seen = {}
    for row in rows:
        side = side_of(row["input"], seed, holdout)
        assert seen.setdefault(row["input"], side) == side


@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.5, 0.9])
def test_validation_fraction_is_honoured_over_many_inputs(fraction):
    assert validation_share(7, fraction) == pytest.approx(fraction, abs=0.02)


@pytest.mark.parametrize("seed", [0, 1, 42, 2**32 - 1])
def test_fraction_is_honoured_whatever_the_seed(seed):
    assert validation_share(seed, 0.2) == pytest.approx(0.2, abs=0.02)


def test_different_seeds_give_different_and_independent_splits():
    one = [in_validation(text, 1, 0.5) for text in INPUTS]
    two = [in_validation(text, 2, 0.5) for text in INPUTS]
    assert one != two
    # Independent halves agree on about half the inputs, not on all or none of them.
    agreement = sum(a == b for a, b in zip(one, two, strict=True)) / len(INPUTS)
    assert agreement == pytest.approx(0.5, abs=0.03)


def test_zero_fraction_never_puts_an_input_on_the_validation_side():
    assert not any(in_validation(text, seed, 0.0) for text in INPUTS for seed in (0, 1, 42))


def test_raising_the_fraction_only_moves_inputs_into_validation():
    small = {t for t in INPUTS if in_validation(t, 3, 0.1)}
    large = {t for t in INPUTS if in_validation(t, 3, 0.3)}
    assert small < large


def test_side_does_not_depend_on_which_other_inputs_exist():
    alone = in_validation("lonely question", 9, 0.5)
    for text in INPUTS[:100]:
        in_validation(text, 9, 0.5)
    assert in_validation("lonely question", 9, 0.5) is alone


# --- split: three sides -------------------------------------------------------------------


def side_shares(seed: int, holdout: float | None, inputs=INPUTS) -> dict[str, float]:
    counts = Counter(side_of(text, seed, holdout) for text in inputs)
    return {side: counts[side] / len(inputs) for side in (TRAIN, VALIDATION, HOLDOUT)}


def expected_side(u: float, holdout: float | None) -> str:
    """The bands of the unit interval, written out independently of side_of."""
    h = 0.0 if holdout is None else holdout
    if u < h:
        return HOLDOUT
    if u < h + DEFAULT_VALIDATION_FRACTION * (1 - h):
        return VALIDATION
    return TRAIN


def test_the_three_sides_have_distinct_names():
    assert len({TRAIN, VALIDATION, HOLDOUT}) == 3


def test_unit_is_in_the_unit_interval_and_fixed_by_seed_and_normalized_input():
    values = [unit(text, 5) for text in INPUTS[:2000]]
    assert all(0.0 <= u < 1.0 for u in values)
    assert values == [unit(text, 5) for text in INPUTS[:2000]]
    assert unit("  Will it RAIN? ", 5) == unit("will it rain?", 5)
    assert unit("will it rain?", 5) != unit("will it rain?", 6)


@pytest.mark.parametrize("seed", [0, 7, 42])
def test_without_a_holdout_a_fifth_validates_and_the_rest_trains(seed):
    shares = side_shares(seed, None)
    assert shares[HOLDOUT] == 0
    assert shares[VALIDATION] == pytest.approx(0.2, abs=0.02)
    assert shares[TRAIN] == pytest.approx(0.8, abs=0.02)


@pytest.mark.parametrize("seed", [0, 7, 42])
def test_with_a_holdout_of_0_3_the_bands_are_0_3_then_0_14_then_0_56(seed):
    shares = side_shares(seed, 0.3)
    assert shares[HOLDOUT] == pytest.approx(0.3, abs=0.02)
    assert shares[VALIDATION] == pytest.approx(0.14, abs=0.02)
    assert shares[TRAIN] == pytest.approx(0.56, abs=0.02)


@pytest.mark.parametrize("holdout", [0.05, 0.5, 0.9])
def test_validation_takes_a_fifth_of_what_the_holdout_leaves(holdout):
    shares = side_shares(11, holdout)
    assert shares[HOLDOUT] == pytest.approx(holdout, abs=0.02)
    assert shares[VALIDATION] == pytest.approx(0.2 * (1 - holdout), abs=0.02)
    assert shares[TRAIN] == pytest.approx(0.8 * (1 - holdout), abs=0.02)


@pytest.mark.parametrize("holdout", [None, 0.1, 0.3, 0.9])
@pytest.mark.parametrize("seed", [3, 42])
def test_side_is_the_band_of_the_inputs_unit(seed, holdout):
    for text in INPUTS:
        assert side_of(text, seed, holdout) == expected_side(unit(text, seed), holdout), text


@pytest.mark.parametrize("holdout", [0.1, 0.3, 0.9])
def test_holdout_inputs_come_first_then_validation_then_training(holdout):
    units = {side: [] for side in (TRAIN, VALIDATION, HOLDOUT)}
    for text in INPUTS:
        units[side_of(text, 8, holdout)].append(unit(text, 8))
    assert all(units.values())
    assert max(units[HOLDOUT]) < holdout <= min(units[VALIDATION])
    assert max(units[VALIDATION]) < min(units[TRAIN])


def test_without_a_holdout_validation_is_in_validation_at_the_default_fraction():
    for seed in (1, 42):
        for text in INPUTS[:3000]:
            on_validation = side_of(text, seed, None) == VALIDATION
            assert on_validation == in_validation(text, seed, DEFAULT_VALIDATION_FRACTION)


@pytest.mark.parametrize("seed", range(10))
def test_no_input_is_both_held_out_and_trained_or_validated_across_task_types(seed):
    # The same question asked in several task types and spellings: all its rows share a side.
    rows = [
        {"input": spelling, "task_type": task}
        for i in range(200)
        for task in ("travel", "general", "weather", "billing")
        for spelling in (f"Question {i}?", f"  QUESTION   {i}? ", f"question\u00a0{i}?")
    ]
    sides: dict[str, set[str]] = {}
    for row in rows:
        sides.setdefault(normalize(row["input"]), set()).add(side_of(row["input"], seed, 0.3))
    assert len(sides) == 200
    assert all(len(s) == 1 for s in sides.values())
    held = {text for text, s in sides.items() if s == {HOLDOUT}}
    seen_in_training = {text for text, s in sides.items() if s & {TRAIN, VALIDATION}}
    assert held
    assert seen_in_training
    assert not held & seen_in_training


def test_raising_the_holdout_only_moves_inputs_into_the_holdout():
    small = {t for t in INPUTS if side_of(t, 3, 0.1) == HOLDOUT}
    large = {t for t in INPUTS if side_of(t, 3, 0.3) == HOLDOUT}
    assert small < large


def test_the_holdout_draws_on_inputs_that_would_otherwise_train_or_validate():
    # Not just the old validation side renamed: the held-out inputs come from both sides of
    # the split without a holdout.
    before = {t: side_of(t, 4, None) for t in INPUTS}
    after = {t: side_of(t, 4, 0.3) for t in INPUTS}
    assert {before[t] for t in INPUTS if after[t] == HOLDOUT} == {TRAIN, VALIDATION}


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({"hyperparameters": {"seed": 3}}, (3, None)),
        ({"hyperparameters": {"seed": 3}, "holdout_fraction": None}, (3, None)),
        ({"hyperparameters": {"seed": 5}, "holdout_fraction": 0.25}, (5, 0.25)),
    ],
)
def test_a_jobs_split_is_its_seed_and_holdout_fraction_or_none(request_, expected):
    assert split_of({"request": request_}) == expected


# --- mask ---------------------------------------------------------------------------------


def packed(flags: list[bool]) -> bytes:
    writer = MaskWriter()
    writer.extend(flags)
    return writer.getvalue()


def test_mask_packs_the_first_row_into_the_high_bit():
    assert packed([True]) == bytes([0b1000_0000])
    assert packed([False, True]) == bytes([0b0100_0000])
    assert packed([True, False, True, True, False, False, False, True]) == bytes([0b1011_0001])


def test_mask_of_nine_rows_takes_two_bytes():
    assert packed([False] * 8 + [True]) == bytes([0, 0b1000_0000])
    assert packed([True] * 9) == bytes([0xFF, 0x80])


def test_mask_of_no_rows_is_empty():
    writer = MaskWriter()
    writer.extend([])
    assert writer.getvalue() == b""
    assert len(writer) == 0


def test_mask_continues_the_same_byte_across_extend_calls():
    writer = MaskWriter()
    writer.extend([True])
    writer.extend(iter([False, True]))
    writer.extend([])
    writer.extend([True] * 6)
    assert len(writer) == 9
    assert writer.getvalue() == bytes([0b1011_1111, 0b1000_0000])


def test_mask_length_counts_rows_not_bytes():
    writer = MaskWriter()
    writer.extend([False] * 13)
    assert len(writer) == 13
    assert writer.getvalue() == bytes(2)


def rows(n: int) -> list[dict]:
    return [{"i": i} for i in range(n)]


def batched(items: list, sizes: list[int]) -> list[list]:
    out, start = [], 0
    for size in sizes:
        out.append(items[start : start + size])
        start += size
    assert start == len(items)
    return out


@pytest.mark.parametrize("seed", range(10))
def test_select_over_batches_of_any_sizes_returns_exactly_the_flagged_rows_in_order(seed):
    rng = random.Random(seed)
    n = rng.randrange(1, 300)
    flags = [rng.random() < 0.4 for _ in range(n)]
    sizes = []
    while sum(sizes) < n:
        sizes.append(min(rng.choice([0, 1, 3, 7, 8, 9, 50]), n - sum(sizes)))
    data = rows(n)
    out = list(select(packed(flags), iter(batched(data, sizes))))
    assert len(out) == len(sizes)  # one (possibly empty) list per batch read
    assert [r for batch in out for r in batch] == [r for r, f in zip(data, flags, strict=True) if f]
    for batch, kept in zip(batched(data, sizes), out, strict=True):
        assert kept == [r for r in batch if flags[r["i"]]]


def test_select_drops_rows_past_the_end_of_the_mask():
    mask = packed([True, False, True])  # one byte: rows 3..7 are padding zeros
    out = list(select(mask, [rows(5), [{"i": 5}, {"i": 6}], rows(20)[7:]]))
    assert out == [[{"i": 0}, {"i": 2}], [], []]


def test_select_with_an_empty_mask_keeps_nothing():
    assert list(select(b"", [rows(3), rows(2)])) == [[], []]


def test_select_with_every_bit_set_keeps_every_row():
    data = rows(16)
    assert list(select(b"\xff\xff", [data[:5], data[5:]])) == [data[:5], data[5:]]


def test_mask_written_from_filter_flags_selects_what_the_filter_keeps():
    examples = [
        {"input": f"q{i % 7}", "output": "a", "rating": (i % 10) / 10, "task_type": "weather"}
        for i in range(40)
    ]
    judged, fed = QualityFilter(min_score=0.5), QualityFilter(min_score=0.5)
    writer = MaskWriter()
    for start in range(0, 40, 6):
        writer.extend(judged.judge(examples[start : start + 6]))
    expected = fed.feed(examples)
    selected = [r for b in select(writer.getvalue(), batched(examples, [13, 13, 14])) for r in b]
    assert selected == expected
    assert judged.kept == len(expected) == 7
    assert judged.dropped == fed.dropped


# --- the stratified holdout --------------------------------------------------------------


def few_per_task(n_tasks: int, per_task: int) -> list[dict]:
    """Rows of n_tasks task types with per_task distinct inputs each."""
    return [
        {"input": f"task {t} question {i}", "output": "a", "rating": 1.0, "task_type": f"t{t}"}
        for t in range(n_tasks)
        for i in range(per_task)
    ]


def stratified(rows: list[dict], seed: int, fraction: float) -> SplitCounter:
    """Pick a stratified holdout of rows and count the sides with it."""
    picker = StratifiedHoldout(seed, fraction)
    picker.feed(rows)
    counter = SplitCounter(seed, None, picker.held())
    counter.feed(rows)
    return counter


@pytest.mark.parametrize(("per_task", "expected"), [(2, 1), (3, 1), (10, 2), (12, 2), (13, 3)])
def test_a_stratified_holdout_takes_the_fraction_of_each_task_types_distinct_inputs(
    per_task, expected
):
    rows = few_per_task(30, per_task)
    rows += [{**r, "output": "again"} for r in rows[:per_task]]  # t0's inputs twice: same count
    counts = stratified(rows, 7, 0.2).counts
    by_task = {f"t{t}": expected for t in range(30)}
    by_task["t0"] = 2 * expected  # both rows of each held-out input
    assert dict(counts[HOLDOUT]) == by_task


def test_a_stratified_holdout_never_takes_a_single_input_or_all_of_a_task_types_inputs():
    single = [{"input": "the only one", "output": "a", "rating": 1.0, "task_type": "one"}] * 3
    rows = few_per_task(4, 2) + single
    counts = stratified(rows, 3, 0.9).counts
    assert counts[HOLDOUT]["one"] == 0
    assert all(counts[HOLDOUT][f"t{t}"] == 1 for t in range(4))  # 0.9 x 2 rounds to 2: capped


def test_every_row_of_a_held_input_is_held_out_whatever_its_task_type():
    rows = few_per_task(2, 10)
    picker = StratifiedHoldout(5, 0.2)
    picker.feed(rows)
    held = picker.held()
    twin = {**rows[0], "task_type": "elsewhere"}
    chosen = [r for r in rows if side_of(r["input"], 5, None, held) == HOLDOUT]
    assert len(chosen) == 4
    assert side_of(twin["input"], 5, None, held) == side_of(rows[0]["input"], 5, None, held)
    again = StratifiedHoldout(5, 0.2)
    again.feed(reversed(rows))
    assert again.held() == held  # the rank, not the order rows come in, decides
    assert held_from_bytes(held_to_bytes(held)) == held and held_from_bytes(None) == frozenset()


def test_rows_not_held_out_validate_by_the_band_without_a_cut():
    rows = few_per_task(3, 50)
    picker = StratifiedHoldout(9, 0.2)
    picker.feed(rows)
    held = picker.held()
    for r in rows:
        side = side_of(r["input"], 9, None, held)
        if side != HOLDOUT:
            assert side == side_of(r["input"], 9, None), r["input"]
