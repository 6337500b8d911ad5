"""The interaction list's filters in memory: moments, which records a filter keeps, the scan."""

import pytest
from marshmallow import ValidationError

from tuneloop.schemas.interactions import InteractionQuerySchema
from tuneloop.schemas.moments import parse_moment
from tuneloop.store.interaction_filters import InteractionFilter, scan_page


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1796601600", 1796601600),
        ("2026-12-07", 1796601600),
        ("2026-12-07T12:00:00Z", 1796644800),
        ("2026-12-07T12:00:00", 1796644800),  # no zone: UTC
        ("2026-12-07T13:00:00+01:00", 1796644800),
    ],
)
def test_a_moment_is_unix_seconds_or_iso_8601(text: str, seconds: int) -> None:
    assert parse_moment(text) == seconds


@pytest.mark.parametrize("text", ["yesterday", "-5", "1e9", "2026-13-01", "99999999999999"])
def test_anything_else_is_no_moment(text: str) -> None:
    with pytest.raises(ValueError):
        parse_moment(text)


def record(i: int, **fields: object) -> dict:
    base = {"id": f"r{i}", "input": f"in {i}", "output": "out", "rating": 0.5, "task_type": "t"}
    return {**base, "created_at": 1000 + i, "source": "human", "scores": [], **fields}


def test_each_filter_tests_its_field() -> None:
    scored = record(1, scores=[{"name": "h", "value": 0.7}], source="import", rating=0.9)
    plain = record(2, input="Where is my CARD?")
    cases = [
        (InteractionFilter(q="card"), [plain]),
        (InteractionFilter(q="OUT"), [scored, plain]),
        (InteractionFilter(source="import"), [scored]),
        (InteractionFilter(max_rating=0.5), [plain]),
        (InteractionFilter(min_rating=0.6, max_rating=0.9), [scored]),
        (InteractionFilter(score="h", min_score=0.8), []),
        (InteractionFilter(score="h", max_score=0.7), [scored]),
        (InteractionFilter(score="rating", min_score=0.9), [scored]),
        (InteractionFilter(created_after=1002), [plain]),
        (InteractionFilter(created_before=1002), [scored]),
    ]
    for wanted, kept in cases:
        assert [r for r in (scored, plain) if wanted.keeps(r)] == kept, wanted


def test_the_scan_stops_at_its_bound_with_the_last_record_read_as_cursor() -> None:
    batches = [[record(i) for i in range(j, j + 4)] for j in range(0, 12, 4)]
    assert scan_page(batches, 2, lambda r: r["id"] == "r9", 5) == ([], "r4")
    assert scan_page(batches, 2, lambda r: True, 100) == ([record(0), record(1)], "r1")
    assert scan_page(batches, 20, lambda r: True, 100)[1] is None  # nothing follows


def test_min_above_max_names_both_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        InteractionQuerySchema().load({"min_rating": "0.9", "max_rating": "0.1"})
    assert set(caught.value.messages) == {"min_rating", "max_rating"}
