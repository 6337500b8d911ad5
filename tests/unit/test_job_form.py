"""The new-job form's strings to a JobInSchema request and back."""

import pytest
from marshmallow import ValidationError

from tuneloop.schemas.jobs import JobInSchema
from tuneloop_gateway.pages import job_form

FORM = {
    "suffix": "form",
    "n_epochs": "auto",
    "seed": "7",
    "min_score": "0.5",
    "task_types": "weather, travel ,",
    "early_stopping_patience": "never",
    "lab_eval_set": "on",
    "holdout_fraction": "0.3",
    "promote_metric_0": "macro_f1",
    "promote_kind_0": "min_value",
    "promote_threshold_0": "0.4",
}


def test_the_form_loads_as_the_request_it_shows_and_clones_back_to_itself() -> None:
    loaded = JobInSchema().load(job_form.to_request(FORM))
    assert (
        loaded["hyperparameters"]["seed"] == 7 and loaded["hyperparameters"]["n_epochs"] == "auto"
    )
    assert loaded["hyperparameters"]["early_stopping_patience"] is None
    assert loaded["task_types"] == ["weather", "travel"] and loaded["lab_eval_set"] is True
    assert loaded["promote_if"] == [
        {"metric": "macro_f1", "min_value": 0.4, "use_lower_bound": False}
    ]
    again = JobInSchema().load(job_form.to_request(job_form.from_request(loaded)))
    assert again == loaded


def test_text_that_is_no_number_reaches_the_schema_which_names_its_field() -> None:
    with pytest.raises(ValidationError) as caught:
        JobInSchema().load(
            job_form.to_request({**FORM, "seed": "seven", "promote_threshold_0": ""})
        )
    placed = job_form.placed(job_form.flat_errors(caught.value.normalized_messages()))
    assert set(placed) == {"seed", "promote_0"}


def test_fields_the_form_does_not_carry_are_named() -> None:
    request = {"metadata": {"a": "b"}, "eval_set_size": 3, "hyperparameters": {"beta": 0.1}}
    assert job_form.not_carried(request) == [
        "eval_set (3 cases)",
        "hyperparameters.beta",
        "metadata",
    ]
