"""The job request the stages read: one typed value built from the stored dict."""

import dataclasses

import pytest

from tuneloop.contracts import BASELINE_MODEL_ID, RATING_SCORE
from tuneloop.job_request import JobRequest, request_of
from tuneloop.schemas.jobs import JobInSchema


def test_a_request_stored_before_later_fields_reads_as_it_meant_then() -> None:
    old = {"min_score": 0.7, "include_synthetic": True, "hyperparameters": {"seed": 3}}
    request = JobRequest.from_stored(old)
    assert request.model == BASELINE_MODEL_ID
    assert request.score_name == RATING_SCORE
    assert request.lab_eval_set is True  # no eval set: it was given the lab's cases then
    assert request.task_types is None and request.promote_if == ()
    assert (request.min_score, request.include_synthetic) == (0.7, True)
    assert request.hyperparameters == {"seed": 3}


def test_every_field_of_a_loaded_request_is_read_and_unknown_keys_are_left_out() -> None:
    loaded = JobInSchema().load(
        {
            "task_types": ["b", "a"],
            "eval_set": [{"input": "hi", "expected_type": "a"}],
            "out_of_scope_task": "a",
            "abstain_threshold": 0.3,
            "suffix": "mine",
            "metadata": {"team": "x"},
            "promote_if": [{"metric": "task_accuracy", "min_delta": 0.0}],
        }
    )
    stored = {**loaded, "eval_set_size": len(loaded.pop("eval_set"))}
    request = request_of({"request": stored})
    assert request.task_types == frozenset({"a", "b"})
    assert request.eval_set_size == 1 and request.lab_eval_set is False
    assert (request.out_of_scope_task, request.abstain_threshold) == ("a", 0.3)
    assert request.suffix == "mine" and len(request.promote_if) == 1
    assert request.hyperparameters == loaded["hyperparameters"]
    names = {f.name for f in dataclasses.fields(JobRequest)}
    assert "metadata" not in names


def test_the_request_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        JobRequest().min_score = 0.1  # type: ignore[misc]


def test_an_evaluation_jobs_request_names_its_models_and_seed() -> None:
    stored = {"model_a": BASELINE_MODEL_ID, "model_b": "ft-x-0123", "seed": 9, "eval_set_size": 4}
    request = JobRequest.from_stored(stored)
    assert (request.model_a, request.model_b, request.seed) == (BASELINE_MODEL_ID, "ft-x-0123", 9)
    assert request.eval_set_size == 4
