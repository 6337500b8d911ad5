"""Bad rows grouped by problem: the offending values once each, the lines in order."""

from tuneloop_cli.bad_rows import Bad, group, render, summary
from tuneloop_cli.batches import item_errors
from tuneloop_cli.rows import Row

RATING = "rating: not a number between 0 and 1"


def test_rows_with_one_problem_are_one_group_with_its_values_and_lines() -> None:
    bad = [Bad(40, RATING, "'abc'"), Bad(3, RATING, "'abc'"), Bad(17, RATING, "'n/a'")]
    bad += [Bad(9, "input: Field may not be blank.", "'  '")]
    groups = group(bad)
    assert [g.message for g in groups] == [RATING, "input: Field may not be blank."]
    assert render(groups[0]) == f"{RATING} — 'abc' and 'n/a' (lines 3, 17 and 40)"
    assert render(groups[1]) == "input: Field may not be blank. — '  ' (line 9)"


def test_a_long_group_names_five_lines_and_how_many_more() -> None:
    bad = [Bad(n, RATING, f"'{n % 4}x'") for n in range(2, 40, 2)]  # 19 rows, 2 values
    (line,) = [render(g) for g in group(bad)]
    assert line.endswith("(lines 2, 4, 6, 8, 10 and 14 more)"), line
    assert "'2x', '0x' and" not in line and "and 0 other" not in line
    assert "— '2x' and '0x' (" in line, line  # two distinct values: both named, no "other"


def test_summary_counts_rows_not_problems() -> None:
    bad = [Bad(3, RATING, "'x'"), Bad(3, "input: blank"), Bad(4, RATING, "'y'")]
    head, *lines = summary(bad)
    assert head == "2 bad rows, 2 problems:"
    assert lines == [f"  {RATING} — 'x' and 'y' (lines 3 and 4)", "  input: blank (line 3)"]


def test_the_apis_item_errors_come_back_on_their_rows_lines_with_the_values_sent() -> None:
    rows = [Row(5, {"rating": 1.5, "input": "a"}), Row(9, {"rating": 0.5, "input": " "})]
    errors = {"items": {"0": {"rating": ["Must be <= 1."]}, "1": {"input": ["Blank."]}}}
    found = item_errors(errors, rows)
    assert found == {
        5: [Bad(5, "rating: Must be <= 1.", "1.5")],
        9: [Bad(9, "input: Blank.", "' '")],
    }


def test_more_than_three_values_are_named_three_and_how_many_others() -> None:
    bad = [Bad(n, RATING, f"'v{n}'") for n in range(1, 6)]
    (line,) = [render(g) for g in group(bad)]
    assert "— 'v1', 'v2', 'v3' and 2 other values (lines 1, 2, 3, 4 and 5)" in line, line
