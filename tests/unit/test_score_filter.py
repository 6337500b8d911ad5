"""A job's score_name: min_score applies to that score; a row without it is dropped as no_score."""

import pytest
from marshmallow import ValidationError

from tuneloop.schemas.interactions import InteractionPatchSchema, ScoreInSchema
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.stages.collect import to_example
from tuneloop.stages.filter import QualityFilter


def row(n: int, rating: float, scores: dict[str, float] | None = None) -> dict:
    record = {"id": f"int_{n}", "input": f"q{n}", "output": f"a{n}", "rating": rating}
    record["task_type"] = "weather"
    if scores is not None:
        record["scores"] = [
            {"name": k, "value": v, "source": "app", "comment": None, "created_at": 1}
            for k, v in scores.items()
        ]
    return to_example(record)


def test_the_default_score_is_the_rating_and_named_scores_do_not_change_it() -> None:
    rules = QualityFilter(min_score=0.8)
    batch = [row(1, 0.9, {"helpful": 0.1}), row(2, 0.5, {"helpful": 0.99}), row(3, 0.85)]
    assert rules.judge(batch) == [True, False, True]
    assert rules.dropped == {"below_min_score": 1}


def test_a_named_score_is_judged_and_rows_without_it_are_dropped_as_no_score() -> None:
    rules = QualityFilter(min_score=0.8, score_name="helpful")
    batch = [
        row(1, 0.1, {"helpful": 0.9}),  # low rating, high score: kept
        row(2, 0.99, {"helpful": 0.5}),  # high rating, low score: dropped
        row(3, 0.99),  # no scores at all
        row(4, 0.99, {"concise": 1.0}),  # other scores only
    ]
    assert rules.judge(batch) == [True, False, False, False]
    assert rules.dropped == {"below_min_score": 1, "no_score": 2}


def test_a_job_request_defaults_to_the_rating() -> None:
    assert JobInSchema().load({})["score_name"] == "rating"


@pytest.mark.parametrize("body", [{}, {"rating": 0.5, "input": "x"}, {"rating": None}])
def test_a_patch_needs_known_fields_and_at_least_one(body: dict) -> None:
    with pytest.raises(ValidationError):
        InteractionPatchSchema().load(body)


def test_the_rating_is_not_a_named_score() -> None:
    with pytest.raises(ValidationError) as raised:
        ScoreInSchema().load({"name": "rating", "value": 0.5, "source": "human"})
    assert "name" in raised.value.messages
