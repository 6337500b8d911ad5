"""Validation rules of the request schemas: what loads, what is rejected and why."""

import json

import pytest
from marshmallow import ValidationError

from tuneloop.schemas.common import MAX_METADATA_BYTES, MAX_TEXT
from tuneloop.schemas.interactions import (
    MAX_BATCH,
    MAX_MODEL,
    InteractionBatchInSchema,
    InteractionInSchema,
    InteractionPatchSchema,
    InteractionQuerySchema,
    InteractionSchema,
)
from tuneloop.schemas.jobs import (
    MAX_EVAL_SET,
    EventQuerySchema,
    HyperparametersSchema,
    JobInSchema,
)
from tuneloop.schemas.models import ResponseInSchema

VALID = {
    "input": "Will it rain in Oslo tomorrow?",
    "output": "Rain is likely in Oslo tomorrow afternoon.",
    "rating": 0.9,
    "task_type": "weather",
}


def load_interaction(**changes: object) -> dict:
    return InteractionInSchema().load({**VALID, **changes})


def errors_of(schema, data: dict) -> dict:
    with pytest.raises(ValidationError) as info:
        schema.load(data)
    return info.value.messages


def interaction_errors(**changes: object) -> dict:
    return errors_of(InteractionInSchema(), {**VALID, **changes})


# --- interactions -------------------------------------------------------------------------


def test_valid_interaction_loads_with_default_source_and_metadata():
    loaded = load_interaction()
    assert loaded == {**VALID, "source": "human", "metadata": {}}


def test_default_metadata_is_a_fresh_dict_per_load():
    first, second = load_interaction(), load_interaction()
    first["metadata"]["x"] = 1
    assert second["metadata"] == {}


@pytest.mark.parametrize("source", ["human", "synthetic", "import"])
def test_every_known_source_is_accepted(source):
    assert load_interaction(source=source)["source"] == source


def test_unknown_source_is_rejected():
    assert "source" in interaction_errors(source="robot")


def test_unknown_field_is_rejected():
    assert interaction_errors(extra="x") == {"extra": ["Unknown field."]}


@pytest.mark.parametrize("field", ["input", "output", "rating", "task_type"])
def test_missing_required_field_is_rejected(field):
    data = {k: v for k, v in VALID.items() if k != field}
    assert field in errors_of(InteractionInSchema(), data)


@pytest.mark.parametrize("rating", [0, 0.0, 0.5, 1, 1.0])
def test_rating_on_the_closed_unit_interval_is_accepted(rating):
    assert load_interaction(rating=rating)["rating"] == float(rating)


@pytest.mark.parametrize("rating", [-0.01, 1.01, 5, -1])
def test_rating_outside_zero_to_one_is_rejected(rating):
    assert "rating" in interaction_errors(rating=rating)


@pytest.mark.parametrize(
    "rating", [float("nan"), float("inf"), float("-inf"), "NaN", "Infinity", "-Infinity"]
)
def test_rating_nan_or_infinity_is_rejected(rating):
    assert "rating" in interaction_errors(rating=rating)


@pytest.mark.parametrize("rating", [True, False])
def test_rating_given_as_a_boolean_is_rejected(rating):
    assert "rating" in interaction_errors(rating=rating)


@pytest.mark.parametrize("rating", [None, "high", [0.5], {"v": 0.5}])
def test_rating_that_is_not_a_number_is_rejected(rating):
    assert "rating" in interaction_errors(rating=rating)


@pytest.mark.parametrize("field", ["input", "output"])
@pytest.mark.parametrize(
    "value",
    ["", " ", "   \t\n  ", "\u3000"],
    ids=["empty", "space", "whitespace-mix", "ideographic-space"],
)
def test_empty_or_whitespace_only_text_is_rejected(field, value):
    assert field in interaction_errors(**{field: value})


@pytest.mark.parametrize("field", ["input", "output"])
@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_text_with_a_control_character_is_rejected(field, char):
    messages = interaction_errors(**{field: f"hello{char}world"})
    assert any("control characters" in m for m in messages[field])


def test_tab_newline_and_carriage_return_are_allowed_in_text():
    text = "line one\tcolumn\r\nline two\n"
    assert load_interaction(input=text)["input"] == text


@pytest.mark.parametrize("field", ["input", "output"])
def test_text_of_exactly_max_length_is_accepted(field):
    assert len(load_interaction(**{field: "a" * MAX_TEXT})[field]) == MAX_TEXT == 4000


@pytest.mark.parametrize("field", ["input", "output"])
def test_text_over_max_length_is_rejected(field):
    assert field in interaction_errors(**{field: "a" * (MAX_TEXT + 1)})


@pytest.mark.parametrize("field", ["input", "output"])
def test_text_that_is_not_a_string_is_rejected(field):
    assert field in interaction_errors(**{field: 42})


@pytest.mark.parametrize(
    "task_type",
    [
        *["weather", "legal.contracts", "a", "9lives", "x" * 64, "reverted_card_payment?"],
        *["m\u00e9t\u00e9o", "has space", "slash/y", "_leading", "-leading", "a:b*{c}"],
    ],
)
def test_task_type_of_printable_text_is_accepted(task_type):
    assert load_interaction(task_type=task_type)["task_type"] == task_type


@pytest.mark.parametrize("task_type", ["", " x", "x ", "a\x00b", "weather\n", "x" * 65, "a\u200bb"])
def test_task_type_that_is_empty_long_padded_or_unprintable_is_rejected_naming_it(task_type):
    [message] = interaction_errors(task_type=task_type)["task_type"]
    assert repr(task_type) in message, message


def test_metadata_nested_four_levels_deep_is_accepted():
    meta = {"a": {"b": {"c": {"d": 1}}}}
    assert load_interaction(metadata=meta)["metadata"] == meta


@pytest.mark.parametrize(
    "meta",
    [{"a": {"b": {"c": {"d": {"e": 1}}}}}, {"a": {"b": {"c": {"d": {}}}}}, {"a": [[[[1]]]]}],
    ids=["dicts", "empty-innermost", "lists"],
)
def test_metadata_nested_deeper_than_four_levels_is_rejected(meta):
    messages = interaction_errors(metadata=meta)
    assert any("deeper" in m for m in messages["metadata"])


def test_metadata_at_the_size_limit_is_accepted():
    overhead = len(json.dumps({"k": ""}))
    meta = {"k": "x" * (MAX_METADATA_BYTES - overhead)}
    assert len(json.dumps(meta)) == MAX_METADATA_BYTES
    assert load_interaction(metadata=meta)["metadata"] == meta


def test_metadata_larger_than_4096_bytes_is_rejected():
    overhead = len(json.dumps({"k": ""}))
    meta = {"k": "x" * (MAX_METADATA_BYTES - overhead + 1)}
    messages = interaction_errors(metadata=meta)
    assert any("4096" in m for m in messages["metadata"])


@pytest.mark.parametrize("meta", [[1, 2], "text", 3])
def test_metadata_that_is_not_an_object_is_rejected(meta):
    assert "metadata" in interaction_errors(metadata=meta)


def test_metadata_with_an_empty_or_overlong_key_is_rejected():
    assert "metadata" in interaction_errors(metadata={"": 1})
    assert "metadata" in interaction_errors(metadata={"k" * 65: 1})


@pytest.mark.parametrize("field", ["input", "output"])
def test_text_with_a_lone_surrogate_is_rejected(field):
    assert field in interaction_errors(**{field: "\ud800x"})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_metadata_holding_nan_or_infinity_is_a_validation_error(value):
    assert "metadata" in interaction_errors(metadata={"score": value})


# --- batches ------------------------------------------------------------------------------


GOOD_MODELS = [
    "gpt-4o-mini",
    "ft-support-0123456789ab",
    "ft:gpt-4o-mini:acme::abc123",
    "meta-llama/Llama-3.1-8B-Instruct",
    "claude-3-5-sonnet@20240620",
    "m" * MAX_MODEL,
    "7b",
]
BAD_MODELS = ["", "m" * (MAX_MODEL + 1), "-leading", ".hidden", "has space", "a*", "a\n", "é", 5]
BAD_MODELS += ["latest-promoted"]  # an alias moves: the rating names the model that answered


@pytest.mark.parametrize("model", GOOD_MODELS)
def test_a_model_name_of_the_safe_alphabet_is_kept_as_sent(model):
    assert load_interaction(model=model)["model"] == model
    assert InteractionPatchSchema().load({"model": model}) == {"model": model}
    assert InteractionQuerySchema().load({"model": model})["model"] == model


@pytest.mark.parametrize("model", BAD_MODELS, ids=repr)
def test_a_model_name_outside_the_safe_alphabet_or_length_is_rejected_naming_model(model):
    assert list(interaction_errors(model=model)) == ["model"]
    assert list(errors_of(InteractionPatchSchema(), {"model": model})) == ["model"]
    if isinstance(model, str):
        assert list(errors_of(InteractionQuerySchema(), {"model": model})) == ["model"]


def test_model_is_optional_and_null_means_none():
    assert "model" not in load_interaction()
    assert load_interaction(model=None)["model"] is None
    assert InteractionPatchSchema().load({"model": None}) == {"model": None}


def test_a_stored_interaction_without_a_model_dumps_model_null():
    record = {**VALID, "id": "i-1", "object": "interaction", "created_at": 1}
    assert InteractionSchema().dump(record)["model"] is None
    assert InteractionSchema().dump({**record, "model": "gpt-4o-mini"})["model"] == "gpt-4o-mini"


def test_batch_of_max_size_loads():
    loaded = InteractionBatchInSchema().load({"items": [VALID] * MAX_BATCH})
    assert len(loaded["items"]) == MAX_BATCH == 1000
    assert loaded["items"][0]["source"] == "human"


def test_batch_of_1001_items_is_rejected():
    messages = errors_of(InteractionBatchInSchema(), {"items": [VALID] * (MAX_BATCH + 1)})
    assert "items" in messages


def test_empty_batch_is_rejected():
    assert "items" in errors_of(InteractionBatchInSchema(), {"items": []})


def test_batch_with_one_bad_item_names_its_index_and_field():
    items = [VALID, VALID, {**VALID, "rating": 2}, VALID]
    messages = errors_of(InteractionBatchInSchema(), {"items": items})
    assert list(messages["items"]) == [2]
    assert list(messages["items"][2]) == ["rating"]


def test_batch_with_several_bad_items_names_each_one():
    items = [{**VALID, "input": ""}, VALID, {**VALID, "task_type": "bad type ", "extra": 1}]
    messages = errors_of(InteractionBatchInSchema(), {"items": items})
    assert set(messages["items"]) == {0, 2}
    assert set(messages["items"][0]) == {"input"}
    assert set(messages["items"][2]) == {"task_type", "extra"}


# --- jobs ---------------------------------------------------------------------------------


def test_empty_job_request_gets_every_default():
    assert JobInSchema().load({}) == {
        "method": "supervised",
        "min_score": 0.8,
        "score_name": "rating",
        "include_synthetic": False,
        "lab_eval_set": False,
        "holdout_fraction": 0.2,
        "holdout_per_task": True,
        "hyperparameters": {
            "n_epochs": "auto",
            "learning_rate": "auto",
            "batch_size": "auto",
            "seed": 42,
            "l2": 1e-6,
            "early_stopping_patience": 3,
        },
    }


def test_a_job_request_naming_what_to_evaluate_on_gets_no_default_holdout():
    case = {"input": "Refund?", "expected_type": "billing"}
    assert "holdout_fraction" not in JobInSchema().load({"eval_set": [case]})
    assert "holdout_fraction" not in JobInSchema().load({"lab_eval_set": True})
    given = JobInSchema().load({"holdout_fraction": 0.3, "lab_eval_set": True})
    assert given["holdout_fraction"] == 0.3 and given["lab_eval_set"] is True
    assert "holdout_per_task" not in given  # an explicit fraction: the plain hash band
    assert "holdout_per_task" not in JobInSchema().load({"holdout_fraction": 0.3})
    default = JobInSchema().load({"include_synthetic": True})
    assert default["holdout_fraction"] == 0.2 and default["holdout_per_task"] is True
    with pytest.raises(ValidationError) as refused:
        JobInSchema().load({"lab_eval_set": True, "holdout_per_task": True})
    assert refused.value.messages == {"holdout_per_task": ["needs holdout_fraction"]}


def test_partial_hyperparameters_are_completed_with_defaults():
    loaded = JobInSchema().load({"hyperparameters": {"n_epochs": 3, "seed": 7}})
    assert loaded["hyperparameters"] == {
        "n_epochs": 3,
        "learning_rate": "auto",
        "batch_size": "auto",
        "seed": 7,
        "l2": 1e-6,
        "early_stopping_patience": 3,
    }


def test_default_hyperparameters_are_not_shared_between_loads():
    first = JobInSchema().load({})
    first["hyperparameters"]["seed"] = 1
    assert JobInSchema().load({})["hyperparameters"]["seed"] == 42


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n_epochs", "5"),
        ("n_epochs", 5.0),
        ("n_epochs", True),
        ("batch_size", "8"),
        ("batch_size", 8.5),
        ("seed", "42"),
        ("seed", 42.0),
        ("seed", False),
        ("learning_rate", "fast"),
        ("learning_rate", None),
    ],
)
def test_hyperparameter_of_the_wrong_type_is_rejected(name, value):
    messages = errors_of(JobInSchema(), {"hyperparameters": {name: value}})
    assert name in messages["hyperparameters"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n_epochs", 0),
        ("n_epochs", 201),
        ("batch_size", 0),
        ("batch_size", 4097),
        ("seed", -1),
        ("seed", 2**32),
        ("learning_rate", 0),
        ("learning_rate", -0.1),
        ("learning_rate", 10.5),
        ("learning_rate", float("nan")),
    ],
)
def test_hyperparameter_out_of_range_is_rejected(name, value):
    messages = errors_of(JobInSchema(), {"hyperparameters": {name: value}})
    assert name in messages["hyperparameters"]


def test_unknown_hyperparameter_is_rejected():
    messages = errors_of(JobInSchema(), {"hyperparameters": {"momentum": 0.9}})
    assert "momentum" in messages["hyperparameters"]


@pytest.mark.parametrize("min_score", [-0.1, 1.1, float("nan"), True])
def test_min_score_outside_zero_to_one_is_rejected(min_score):
    assert "min_score" in errors_of(JobInSchema(), {"min_score": min_score})


@pytest.mark.parametrize("fraction", [0, 0.95, -0.1])
def test_holdout_fraction_outside_its_range_is_rejected(fraction):
    assert "holdout_fraction" in errors_of(JobInSchema(), {"holdout_fraction": fraction})


def test_holdout_fraction_inside_its_range_is_kept():
    assert JobInSchema().load({"holdout_fraction": 0.25})["holdout_fraction"] == 0.25


def test_task_types_list_validates_each_label_and_rejects_empty_list():
    assert JobInSchema().load({"task_types": ["billing", "legal.contracts"]})["task_types"] == [
        "billing",
        "legal.contracts",
    ]
    assert "task_types" in errors_of(JobInSchema(), {"task_types": []})
    messages = errors_of(JobInSchema(), {"task_types": ["ok", "not ok "]})
    assert list(messages["task_types"]) == [1]


EVAL_CASE = {"input": "Is it sunny?", "expected_type": "weather"}


def test_eval_set_of_max_size_is_accepted():
    loaded = JobInSchema().load({"eval_set": [EVAL_CASE] * MAX_EVAL_SET})
    assert len(loaded["eval_set"]) == MAX_EVAL_SET == 10_000


def test_eval_set_over_10000_cases_is_rejected():
    messages = errors_of(JobInSchema(), {"eval_set": [EVAL_CASE] * (MAX_EVAL_SET + 1)})
    assert "eval_set" in messages


def test_eval_case_reference_output_is_optional_but_must_be_non_blank():
    loaded = JobInSchema().load({"eval_set": [EVAL_CASE, {**EVAL_CASE, "reference_output": "Yes"}]})
    assert "reference_output" not in loaded["eval_set"][0]
    assert loaded["eval_set"][1]["reference_output"] == "Yes"
    messages = errors_of(JobInSchema(), {"eval_set": [{**EVAL_CASE, "reference_output": "  "}]})
    assert "reference_output" in messages["eval_set"][0]


def test_eval_case_with_bad_expected_type_names_its_index():
    cases = [EVAL_CASE, {**EVAL_CASE, "expected_type": " not a type"}]
    messages = errors_of(JobInSchema(), {"eval_set": cases})
    assert list(messages["eval_set"]) == [1]
    assert "expected_type" in messages["eval_set"][1]


@pytest.mark.parametrize("suffix", ["a", "my-model-2", "x" * 40])
def test_valid_suffix_is_accepted(suffix):
    assert JobInSchema().load({"suffix": suffix})["suffix"] == suffix


@pytest.mark.parametrize("suffix", ["", "-lead", "Upper", "under_score", "x" * 41, "a b"])
def test_invalid_suffix_is_rejected(suffix):
    assert "suffix" in errors_of(JobInSchema(), {"suffix": suffix})


def test_suffix_with_a_trailing_newline_is_rejected():
    assert "suffix" in errors_of(JobInSchema(), {"suffix": "abc\n"})


def test_unknown_job_field_is_rejected():
    assert "priority" in errors_of(JobInSchema(), {"priority": 1})


def test_event_cursor_must_look_like_a_stream_id():
    assert EventQuerySchema().load({"after": "1700000000000-0"})["after"] == "1700000000000-0"
    assert "after" in errors_of(EventQuerySchema(), {"after": "abc"})


def test_event_cursor_with_a_trailing_newline_is_rejected():
    assert "after" in errors_of(EventQuerySchema(), {"after": "1-2\n"})


def test_response_request_needs_non_blank_input():
    assert ResponseInSchema().load({"input": "hello"}) == {"input": "hello"}
    assert "input" in errors_of(ResponseInSchema(), {"input": " "})
    assert "input" in errors_of(ResponseInSchema(), {})


# --- hyperparameter controls: "auto", l2, early stopping ----------------------------------


def hyperparameter_errors(**controls: object) -> dict:
    return errors_of(JobInSchema(), {"hyperparameters": controls})["hyperparameters"]


def load_hyperparameters(**controls: object) -> dict:
    return JobInSchema().load({"hyperparameters": controls})["hyperparameters"]


AUTO_CONTROLS = ["n_epochs", "learning_rate", "batch_size"]


@pytest.mark.parametrize("name", AUTO_CONTROLS)
def test_auto_control_accepts_the_string_auto(name):
    assert load_hyperparameters(**{name: "auto"})[name] == "auto"


@pytest.mark.parametrize("name", AUTO_CONTROLS)
def test_auto_control_defaults_to_auto(name):
    assert HyperparametersSchema().load({})[name] == "auto"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n_epochs", 1),
        ("n_epochs", 200),
        ("learning_rate", 0.001),
        ("learning_rate", 10),
        ("batch_size", 1),
        ("batch_size", 4096),
    ],
)
def test_auto_control_accepts_a_number_in_its_range(name, value):
    assert load_hyperparameters(**{name: value})[name] == value


@pytest.mark.parametrize("name", AUTO_CONTROLS)
@pytest.mark.parametrize("value", ["Auto", "AUTO", "atuo", "auto ", "", "none"])
def test_auto_control_rejects_any_other_string_naming_auto(name, value):
    messages = hyperparameter_errors(**{name: value})
    assert list(messages) == [name]
    assert any('"auto"' in m for m in messages[name])


@pytest.mark.parametrize("name", AUTO_CONTROLS)
def test_auto_control_rejects_null_and_containers(name):
    for value in (None, [], {}, ["auto"]):
        assert name in hyperparameter_errors(**{name: value})


@pytest.mark.parametrize("l2", [0, 0.0, 1e-6, 0.5, 1])
def test_l2_between_zero_and_one_is_accepted(l2):
    assert load_hyperparameters(l2=l2)["l2"] == l2


@pytest.mark.parametrize("l2", [-1e-9, -1, 1.0001, 2, float("nan"), float("inf"), "0.1", True])
def test_l2_outside_zero_to_one_or_not_a_number_is_rejected(l2):
    assert list(hyperparameter_errors(l2=l2)) == ["l2"]


def test_l2_defaults_to_one_in_a_million():
    assert load_hyperparameters()["l2"] == 1e-6


@pytest.mark.parametrize("patience", [1, 3, 200, None])
def test_early_stopping_patience_from_1_to_200_or_null_is_accepted(patience):
    assert load_hyperparameters(early_stopping_patience=patience)["early_stopping_patience"] == (
        patience
    )


@pytest.mark.parametrize("patience", [0, -1, 201, 2.5, 3.0, "3", True, "auto"])
def test_early_stopping_patience_out_of_range_or_not_an_integer_is_rejected(patience):
    messages = hyperparameter_errors(early_stopping_patience=patience)
    assert list(messages) == ["early_stopping_patience"]


def test_early_stopping_patience_defaults_to_three():
    assert load_hyperparameters()["early_stopping_patience"] == 3


def test_explicit_patience_larger_than_explicit_n_epochs_is_rejected_on_patience():
    messages = hyperparameter_errors(n_epochs=4, early_stopping_patience=5)
    assert messages == {"early_stopping_patience": ["must not exceed n_epochs (4)"]}


def test_same_check_applies_to_the_hyperparameters_schema_alone():
    with pytest.raises(ValidationError) as info:
        HyperparametersSchema().load({"n_epochs": 1, "early_stopping_patience": 2})
    assert list(info.value.messages) == ["early_stopping_patience"]


def test_explicit_patience_equal_to_n_epochs_is_accepted():
    loaded = load_hyperparameters(n_epochs=4, early_stopping_patience=4)
    assert (loaded["n_epochs"], loaded["early_stopping_patience"]) == (4, 4)


def test_default_patience_with_fewer_epochs_is_accepted():
    loaded = load_hyperparameters(n_epochs=1)
    assert (loaded["n_epochs"], loaded["early_stopping_patience"]) == (1, 3)


def test_explicit_patience_with_auto_epochs_is_accepted():
    loaded = load_hyperparameters(n_epochs="auto", early_stopping_patience=200)
    assert loaded["early_stopping_patience"] == 200


def test_null_patience_with_one_epoch_is_accepted():
    assert (
        load_hyperparameters(n_epochs=1, early_stopping_patience=None)["early_stopping_patience"]
        is None
    )


def test_patience_is_not_compared_with_an_invalid_n_epochs():
    messages = hyperparameter_errors(n_epochs=0, early_stopping_patience=5)
    assert list(messages) == ["n_epochs"]


def test_resolved_hyperparameters_dump_as_given():
    resolved = {
        "n_epochs": 15,
        "learning_rate": 0.2,
        "batch_size": 32,
        "seed": 42,
        "l2": 1e-6,
        "early_stopping_patience": None,
    }
    assert HyperparametersSchema().dump(resolved) == resolved
    assert HyperparametersSchema().dump({**resolved, "n_epochs": "auto"})["n_epochs"] == "auto"
