"""Schemas of evaluation requests: stored models answer an eval set, no training."""

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from tuneloop.contracts import BASELINE_MODEL_ID
from tuneloop.schemas.common import FullMatch, metadata, task_type
from tuneloop.schemas.jobs import MAX_EVAL_SET, EvalCaseSchema

MODEL_REF = FullMatch(
    r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$",
    error="must be a model id or alias: a letter or digit, then letters, digits, '_.:-'",
)


def model_ref(description: str) -> fields.String:
    """A model id or alias (e.g. latest-promoted), resolved when the evaluation is created."""
    return fields.String(validate=MODEL_REF, metadata={"description": description})


class EvaluationInSchema(Schema):
    """Evaluate model against the keyword baseline, or model_b against model_a."""

    model = model_ref("the model to evaluate against the keyword baseline (not with model_a/b)")
    model_a = model_ref("the reference model (reported as baseline); default: the baseline")
    model_b = model_ref("the candidate model (reported as fine_tuned)")
    eval_set = fields.List(
        fields.Nested(EvalCaseSchema), required=True, validate=validate.Length(1, MAX_EVAL_SET)
    )
    out_of_scope_task = task_type(
        metadata={"description": "report out-of-scope recall and precision for this task type"}
    )
    seed = fields.Integer(
        load_default=42,
        strict=True,
        validate=validate.Range(0, 2**32 - 1),
        metadata={"description": "seed of the bootstrap resamples"},
    )
    metadata = metadata()

    @validates_schema
    def _one_pair_of_models(self, data: dict, **kwargs: object) -> None:
        """Refuse a request that names no pair, two ways of naming it, or one model twice."""
        if "model" in data and ("model_a" in data or "model_b" in data):
            raise ValidationError("give either model, or model_a and model_b, not both", "model")
        if "model" not in data and "model_b" not in data:
            raise ValidationError(
                "give model (evaluated against the baseline) or model_b (against model_a)",
                "model_b" if "model_a" in data else "model",
            )
        a, b = data.get("model_a", BASELINE_MODEL_ID), data.get("model_b", data.get("model"))
        if a == b:
            raise ValidationError(f"compares {a!r} with itself; name two models", "model_b")
        task, cases = data.get("out_of_scope_task"), data.get("eval_set") or []
        if task is not None and all(c["expected_type"] != task for c in cases):
            raise ValidationError(
                f"{task!r} is the expected_type of no eval_set case", "out_of_scope_task"
            )

    @post_load
    def _as_pair(self, data: dict, **kwargs: object) -> dict:
        """Name the models model_a and model_b, whichever way they were given."""
        model = data.pop("model", None)
        if model is not None:
            data["model_b"] = model
        data.setdefault("model_a", BASELINE_MODEL_ID)
        return data
