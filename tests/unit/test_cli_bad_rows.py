"""Bad rows grouped by problem: the offending values once each, the lines in order."""

from tuneloop_cli.bad_rows import VALUES_COUNTED, Bad, group, render, summary
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


def test_200k_bad_rows_are_counted_by_line_with_their_first_lines_and_values() -> None:
    rows = 200_000
    bad = [Bad(n, RATING, f"'v{n % 4}'") for n in range(2, rows + 2)]
    bad += [Bad(n, RATING, f"'v{n % 4}'") for n in range(2, rows + 2, 10)]  # twice on a line
    bad += [Bad(n, "id: taken", f"'id{n}'") for n in range(3, rows + 2, 2)]  # all distinct
    bad += [Bad(n, "input: blank") for n in range(7, rows + 2, 1000)]
    head, rating, taken, blank = summary(bad[::-1])  # out of order: grouped by line anyway
    assert head == f"{rows:,} bad rows, 3 problems:"
    more = rows - 5
    assert (
        rating
        == f"  {RATING} — 'v2', 'v3', 'v0' and 1 other values (lines 2, 3, 4, 5, 6 and {more} more)"
    )
    others = VALUES_COUNTED - 3
    assert taken == (
        f"  id: taken — 'id3', 'id5', 'id7' and at least {others} other values"
        f" (lines 3, 5, 7, 9, 11 and {rows // 2 - 5} more)"
    )
    assert blank == f"  input: blank (lines 7, 1007, 2007, 3007, 4007 and {rows // 1000 - 5} more)"


def test_a_group_with_exactly_the_counted_values_says_how_many_not_at_least() -> None:
    bad = [Bad(n, RATING, f"'v{n}'") for n in range(VALUES_COUNTED)]
    (group_of,) = group(bad)
    assert render(group_of).startswith(
        f"{RATING} — 'v0', 'v1', 'v2' and {VALUES_COUNTED - 3} other"
    )
