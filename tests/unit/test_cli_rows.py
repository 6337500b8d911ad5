"""The CLI's column mapping: every field of an interaction, model included, from JSONL or CSV."""

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
