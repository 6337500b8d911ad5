"""dpo export with no pair says which condition no input met."""

from tuneloop_cli.convert import group_by_input, no_pairs_reason, pairs_of


def rated(*rows: tuple[str, str, float]) -> dict:
    """Group (input, output, rating) rows by input."""
    return group_by_input({"input": i, "output": o, "rating": r} for i, o, r in rows)


def test_one_output_per_input_says_no_input_has_two() -> None:
    groups = rated(("a", "x", 0.9), ("b", "y", 0.2), ("A ", "x", 0.7))
    assert list(pairs_of(groups, 0.5, 0.0)) == []
    assert no_pairs_reason(groups, 0.5, 0.0) == (
        "3 interactions, 2 distinct inputs: no input has two different outputs"
    )


def test_two_outputs_rated_alike_say_no_different_ratings() -> None:
    groups = rated(("a", "x", 0.8), ("a", "y", 0.8))
    assert "no input has two outputs with different ratings" in no_pairs_reason(groups, 0.5, 0)


def test_a_best_output_under_min_score_is_named() -> None:
    groups = rated(("a", "x", 0.4), ("a", "y", 0.1))
    assert "at least the job's min_score 0.5" in no_pairs_reason(groups, 0.5, 0.0)


def test_a_margin_too_wide_is_named() -> None:
    groups = rated(("a", "x", 0.9), ("a", "y", 0.7))
    assert list(pairs_of(groups, 0.5, 0.3)) == []
    assert "--min-margin 0.3" in no_pairs_reason(groups, 0.5, 0.3)
    assert list(pairs_of(groups, 0.5, 0.1)) == [{"prompt": "a", "chosen": "x", "rejected": "y"}]
