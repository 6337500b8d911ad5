"""The CLI's column mapping: every field of an interaction, model included, from JSONL or CSV."""

import re

import pytest
from tuneloop_cli.rows import parse_mapping, read_rows

ROW = {"q": "Will it rain?", "a": "Light rain.", "r": 0.5, "t": "weather"}
MAPPING = "input=q,output=a,rating=r,task_type=t,model=by"


def test_a_mapped_model_column_is_sent_as_the_interactions_model() -> None:
    lines = ['{"q": "Will it rain?", "a": "Light rain.", "r": 0.5, "t": "weather", "by": "gpt-4o"}']
    (row,) = read_rows(lines, "jsonl", parse_mapping([MAPPING]))
    assert row.item == {
        "input": "Will it rain?",
        "output": "Light rain.",
        "rating": 0.5,
        "task_type": "weather",
        "model": "gpt-4o",
    }


def test_a_csv_row_with_an_empty_model_cell_sends_no_model() -> None:
    lines = ["q,a,r,t,by", "Rain?,Yes.,0.5,weather,ft-x", "Sun?,No.,0.75,weather,"]
    first, second = read_rows(lines, "csv", parse_mapping([MAPPING]))
    assert first.item["model"] == "ft-x" and first.item["rating"] == 0.5
    assert "model" not in second.item and second.error is None


def test_an_unknown_field_in_the_mapping_names_the_fields_model_among_them() -> None:
    with pytest.raises(ValueError, match="model"):
        parse_mapping(["generator=by"])


def test_set_gives_every_row_one_value_taken_whole_and_a_rating_as_a_number() -> None:
    mapping = parse_mapping(
        ["input=q,task_type=t"], ["rating=1.0", "output=Thanks, we call you back (ref=1)"]
    )
    lines = ["q,t", "Rain?,weather", "Sun?,weather"]
    rows = list(read_rows(lines, "csv", mapping))
    assert [r.item["rating"] for r in rows] == [1.0, 1.0]
    assert {r.item["output"] for r in rows} == {"Thanks, we call you back (ref=1)"}


def test_a_constant_replaces_the_column_of_its_field_in_jsonl_too() -> None:
    (row,) = read_rows(['{"q": "x", "a": "y", "r": 0.2, "t": "w"}'], "jsonl", set_rating(0.75))
    assert row.item["rating"] == 0.75


def set_rating(value: float):
    """The test mapping with every rating set to value."""
    return parse_mapping(["input=q,output=a,task_type=t"], [f"rating={value}"])


@pytest.mark.parametrize(
    ("maps", "sets", "error"),
    [
        ([], ["rating=high"], "rating: not a number between 0 and 1 — 'high'"),
        ([], ["rating=1.5"], "between 0 and 1"),
        ([], ["metadata=[1"], "metadata: not valid JSON"),
        ([], ["rating"], "not field=value"),
        ([], ["colour=red"], "unknown field 'colour'"),
        (["rating=r"], ["rating=1"], "both mapped to a column"),
    ],
)
def test_a_bad_set_is_refused_naming_the_field(maps, sets, error) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        parse_mapping(maps, sets)


def test_a_csv_lacking_a_mapped_column_points_to_set() -> None:
    with pytest.raises(ValueError, match=r"no column '1\.0'.*--set field=value"):
        list(read_rows(["q,a,t", "x,y,w"], "csv", parse_mapping(["input=q,output=a,rating=1.0"])))


def test_a_bad_rating_cell_names_the_problem_and_quotes_the_cell() -> None:
    lines = ["q,a,r,t", "x,y,abc,w", "x,y,-0.5,w", "x,y,nan,w"]
    rows = list(read_rows(lines, "csv", parse_mapping([MAPPING])))
    assert {r.error for r in rows} == {"rating: not a number between 0 and 1"}
    assert [r.value for r in rows] == ["'abc'", "'-0.5'", "'nan'"]
