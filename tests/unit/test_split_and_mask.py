"""The hash split (train / validation membership) and the packed kept-row mask."""

import random

import pytest

from tuneloop.stages.filter import QualityFilter
from tuneloop.stages.mask import MaskWriter, select
from tuneloop.stages.split import DEFAULT_VALIDATION_FRACTION, in_validation

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


@pytest.mark.parametrize("seed", range(20))
def test_side_depends_only_on_the_input_not_on_task_or_output(seed):
    # in_validation takes only the input: the same input labelled with two task types (or
    # answered twice) can never be both trained on and evaluated.
    rows = [
        {"input": f"q{i}", "task_type": task}
        for i in range(30)
        for task in ("travel", "general", "weather")
    ]
    side_of = {}
    for row in rows:
        side = in_validation(row["input"], seed, 0.3)
        assert side_of.setdefault(row["input"], side) == side


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
