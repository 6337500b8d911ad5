"""OpenAI's fine-tuning `method` object: supervised or dpo, each with its hyperparameters.

`{"type": "supervised"|"dpo", "supervised"|"dpo": {"hyperparameters": {...}}}`, the same on
/v1/fine_tuning/jobs and /v1/jobs; each hyperparameter is a number or "auto".
"""

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from tuneloop.graph import AUTO
from tuneloop.llm.spec import METHODS
from tuneloop.schemas.auto import auto_or
from tuneloop.schemas.common import StrictFloat

SUPERVISED, DPO = METHODS
OPENAI_HYPER = ("n_epochs", "batch_size", "learning_rate_multiplier", "beta")


class FineTuningHyperparametersSchema(Schema):
    """OpenAI's supervised hyperparameters; each "auto" or a number."""

    class Meta:
        unknown = RAISE

    n_epochs = auto_or(
        fields.Integer(strict=True, validate=validate.Range(1, 200)),
        {"type": "integer", "minimum": 1, "maximum": 200},
        "passes over the data (1-200)",
    )
    batch_size = auto_or(
        fields.Integer(strict=True, validate=validate.Range(1, 4096)),
        {"type": "integer", "minimum": 1, "maximum": 4096},
        "rows per step (1-4096)",
    )
    learning_rate_multiplier = auto_or(
        StrictFloat(allow_nan=False, validate=validate.Range(0, 1000, min_inclusive=False)),
        {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
        "scales the auto learning rate (0-1000]; a tiny model trained from random weights "
        "needs about 100, a pretrained one 0.5-2",
    )


class DpoHyperparametersSchema(FineTuningHyperparametersSchema):
    """OpenAI's dpo hyperparameters: the supervised ones and beta."""

    beta = auto_or(
        StrictFloat(allow_nan=False, validate=validate.Range(0, 2, min_inclusive=False)),
        {"type": "number", "exclusiveMinimum": 0, "maximum": 2},
        "DPO's beta (0-2]: how far the model may move from the base model; auto: 0.1",
    )


class SupervisedSchema(Schema):
    """method.supervised."""

    class Meta:
        unknown = RAISE

    hyperparameters = fields.Nested(FineTuningHyperparametersSchema)


class DpoSchema(Schema):
    """method.dpo."""

    class Meta:
        unknown = RAISE

    hyperparameters = fields.Nested(DpoHyperparametersSchema)


class MethodSchema(Schema):
    """The fine-tuning method: supervised (SFT) or dpo (a language model's preference pairs)."""

    class Meta:
        unknown = RAISE

    type = fields.String(
        required=True,
        validate=validate.OneOf(METHODS, error="must be one of: supervised, dpo"),
    )
    supervised = fields.Nested(SupervisedSchema)
    dpo = fields.Nested(DpoSchema)

    @validates_schema
    def _settings_of_its_type(self, data: dict, **kwargs: object) -> None:
        """Only the object its type names holds settings."""
        for other in set(METHODS) - {data.get("type")}:
            if other in data:
                raise ValidationError(f"is for type {other!r}, not {data.get('type')!r}", other)


def method_hyperparameters(method: dict | None) -> dict | None:
    """The hyperparameters a loaded method object gives (None when it gives none)."""
    if not method:
        return None
    return (method.get(method["type"]) or {}).get("hyperparameters")


def flat(hyper: dict | None) -> dict:
    """The OpenAI hyperparameters as a job request's: "auto" learning_rate_multiplier left out."""
    out = {k: v for k, v in (hyper or {}).items() if k in OPENAI_HYPER}
    if out.get("learning_rate_multiplier") == AUTO:
        del out["learning_rate_multiplier"]
    return out
