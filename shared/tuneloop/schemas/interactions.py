"""Schemas of rated interactions."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from tuneloop.contracts import ALIASES, RATING_SCORE, SCORE_SOURCES, SOURCES
from tuneloop.schemas.common import (
    FullMatch,
    StrictFloat,
    event_cursor,
    limit_field,
    metadata,
    task_type,
    text,
)
from tuneloop.schemas.moments import MOMENT_RULE, Moment

MAX_BATCH = 1000
MAX_SCORE_NAMES = 20  # distinct score names per interaction
MAX_COMMENT = 1000
MAX_QUERY = 200  # characters of a text search
SCORE_NAME = FullMatch(
    r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
    error="must start with a letter or digit and hold only letters, digits, '_', '.', ':', '-'",
)


MAX_MODEL = 128
MODEL_NAME = FullMatch(
    r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]*$",
    error="must start with a letter or digit and hold only letters, digits, '_', '.', ':', "
    "'/', '@', '-'",
)
NOT_AN_ALIAS = validate.NoneOf(
    ALIASES,
    error="{input!r} is an alias, which moves: name the model that answered (a model's answer "
    "gives it as `model`)",
)
MODEL_RULE = (
    "the model that produced the output: a fine-tuned model's id (ft-...: a model's answer gives "
    "it as `model`) or any other model's name such as gpt-4o-mini, not an alias (it moves); "
    f"1-{MAX_MODEL} characters: a letter or digit, then letters, digits and '_.:/@-'"
)


def score_name(**kwargs: object) -> fields.String:
    """The name of a score: 1-64 characters of a URL-safe alphabet."""
    return fields.String(validate=[validate.Length(1, 64), SCORE_NAME], **kwargs)


def model_name(description: str = MODEL_RULE, **kwargs: object) -> fields.String:
    """The name of the model that produced an interaction's output (1-128 safe characters)."""
    checks = [validate.Length(1, MAX_MODEL), MODEL_NAME, NOT_AN_ALIAS]
    return fields.String(validate=checks, metadata={"description": description}, **kwargs)


class InteractionInSchema(Schema):
    """One rated interaction as a client posts it."""

    input = text(required=True)
    output = text(required=True)
    rating = StrictFloat(required=True, allow_nan=False, validate=validate.Range(0.0, 1.0))
    task_type = task_type(required=True)
    source = fields.String(load_default="human", validate=validate.OneOf(SOURCES))
    metadata = metadata(load_default=dict)
    model = model_name(allow_none=True, description=f"{MODEL_RULE}; null or absent: not known")


class ScoreInSchema(Schema):
    """A named score given to an interaction after the fact (by a person, an app, an evaluator)."""

    name = score_name(
        required=True,
        metadata={
            "description": "a job's score_name selects it; a new value of a name replaces the "
            f"old one; {RATING_SCORE!r} is the interaction's own rating (change it with PATCH)"
        },
    )
    value = StrictFloat(required=True, allow_nan=False, validate=validate.Range(0.0, 1.0))
    source = fields.String(required=True, validate=validate.OneOf(SCORE_SOURCES))
    comment = text(max_length=MAX_COMMENT)

    @validates_schema
    def _not_the_rating(self, data: dict, **kwargs: object) -> None:
        if data.get("name") == RATING_SCORE:
            message = f"{RATING_SCORE!r} is the interaction's own rating: change it with PATCH"
            raise ValidationError(message, "name")


class ScoreSchema(ScoreInSchema):
    """A stored score."""

    comment = fields.String(required=True, allow_none=True)
    created_at = fields.Integer(required=True, metadata={"description": "Unix seconds"})


class InteractionSchema(InteractionInSchema):
    """A stored interaction."""

    id = fields.String(dump_only=True, required=True)
    object = fields.String(dump_only=True, required=True)
    created_at = fields.Integer(
        dump_only=True, required=True, metadata={"description": "Unix seconds"}
    )
    updated_at = fields.Integer(
        dump_only=True,
        required=True,
        allow_none=True,
        dump_default=None,
        metadata={"description": "Unix seconds of the last edit or score (null: never)"},
    )
    scores = fields.List(
        fields.Nested(ScoreSchema), dump_only=True, required=True, dump_default=list
    )
    model = model_name(
        description=f"{MODEL_RULE}; null: not known",
        required=True,
        allow_none=True,
        dump_default=None,
    )


class InteractionPatchSchema(Schema):
    """The fields of an interaction that may change after the fact (at least one)."""

    rating = StrictFloat(allow_nan=False, validate=validate.Range(0.0, 1.0))
    task_type = task_type()
    metadata = metadata(metadata={"description": "replaces the whole metadata object"})
    model = model_name(
        allow_none=True,
        description=f"{MODEL_RULE}; null: not known (the ratings it counts in follow it)",
    )

    @validates_schema
    def _something_to_change(self, data: dict, **kwargs: object) -> None:
        if not data:
            message = "send at least one of rating, task_type, metadata, model"
            raise ValidationError(message, "body")


class DeletedSchema(Schema):
    """What a delete answers."""

    id = fields.String(required=True)
    object = fields.Constant("interaction.deleted", required=True)
    deleted = fields.Constant(True, required=True)


class InteractionEventQuerySchema(Schema):
    """Cursor of an interaction's audit events (oldest first)."""

    after = event_cursor()
    limit = limit_field(default=100, maximum=1000)


class InteractionEventSchema(Schema):
    """One change to an interaction: who made it, what changed, when."""

    id = fields.String(required=True)
    object = fields.String(required=True)
    type = fields.String(
        required=True,
        metadata={"enum": ["interaction.updated", "interaction.scored", "interaction.deleted"]},
    )
    actor = fields.String(required=True, metadata={"description": "the API key's name"})
    created_at = fields.Integer(required=True, metadata={"description": "Unix seconds"})
    changes = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(),
        required=True,
        metadata={
            "description": "per changed field: {before, after}; empty for a delete; once the "
            "interaction is deleted, {} per field (its values are dropped from its events)"
        },
    )


class InteractionEventPageSchema(Schema):
    """One page of an interaction's audit events."""

    object = fields.Constant("list")
    data = fields.List(fields.Nested(InteractionEventSchema), required=True)
    has_more = fields.Boolean(required=True)


class InteractionBatchInSchema(Schema):
    """Up to 1,000 interactions stored all together or not at all."""

    items = fields.List(
        fields.Nested(InteractionInSchema), required=True, validate=validate.Length(1, MAX_BATCH)
    )


class BatchCreatedSchema(Schema):
    """What a stored batch returns."""

    count = fields.Integer(required=True)
    ids = fields.List(fields.String(), required=True)


def unit_bound(description: str) -> fields.Float:
    """A bound of a rating or score filter: 0 to 1."""
    checks = validate.Range(0.0, 1.0)
    return fields.Float(allow_nan=False, validate=checks, metadata={"description": description})


RANGES = (
    ("min_rating", "max_rating"),
    ("min_score", "max_score"),
    ("created_after", "created_before"),
)


class InteractionQuerySchema(Schema):
    """Filters and cursor of the interaction list; every filter given must hold."""

    limit = limit_field(default=100, maximum=1000)
    after = fields.String(
        validate=validate.Length(1, 64),
        metadata={"description": "a page's next_after: the page after it"},
    )
    task_type = task_type()
    min_rating = unit_bound("rated at or above this")
    max_rating = unit_bound("rated at or below this")
    model = model_name(description="only the interactions of this model")
    q = text(
        max_length=MAX_QUERY,
        metadata={"description": "text in the input or the output (case-insensitive)"},
    )
    source = fields.String(
        validate=validate.OneOf(SOURCES),
        metadata={"description": "where the interaction came from (its source field)"},
    )
    score = score_name(
        metadata={
            "description": "only interactions with a score of this name (min_score and "
            f"max_score bound its value; {RATING_SCORE!r} is the rating)"
        }
    )
    min_score = unit_bound("the named score is at or above this (needs score)")
    max_score = unit_bound("the named score is at or below this (needs score)")
    created_after = Moment(metadata={"description": f"created at or after: {MOMENT_RULE}"})
    created_before = Moment(metadata={"description": f"created before: {MOMENT_RULE}"})

    @validates_schema
    def _ranges_in_order(self, data: dict, **kwargs: object) -> None:
        errors = {}
        for low, high in RANGES:
            if low in data and high in data and data[low] > data[high]:
                message = f"{low} ({data[low]}) is above {high} ({data[high]})"
                errors[low] = errors[high] = [message]
        for bound in ("min_score", "max_score"):
            if bound in data and "score" not in data:
                errors[bound] = ["needs score: the name of the score it bounds"]
        if errors:
            raise ValidationError(errors)


class InteractionPageSchema(Schema):
    """One page of interactions."""

    object = fields.Constant("list")
    data = fields.List(fields.Nested(InteractionSchema), required=True)
    has_more = fields.Boolean(required=True)
    next_after = fields.String(
        metadata={
            "description": "present when has_more: pass it as after for the next page (a "
            "filtered page may hold fewer than limit rows when its scan bound was reached)"
        }
    )


class InteractionStatsSchema(Schema):
    """Counts over every stored interaction."""

    count = fields.Integer(required=True)
    task_distribution = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    rating_histogram = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "ten buckets of width 0.1"},
        required=True,
    )
