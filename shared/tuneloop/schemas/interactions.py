"""Schemas of rated interactions."""

from marshmallow import Schema, fields, validate

from tuneloop.contracts import SOURCES
from tuneloop.schemas.common import StrictFloat, limit_field, metadata, task_type, text

MAX_BATCH = 1000


class InteractionInSchema(Schema):
    """One rated interaction as a client posts it."""

    input = text(required=True)
    output = text(required=True)
    rating = StrictFloat(required=True, allow_nan=False, validate=validate.Range(0.0, 1.0))
    task_type = task_type(required=True)
    source = fields.String(load_default="human", validate=validate.OneOf(SOURCES))
    metadata = metadata(load_default=dict)


class InteractionSchema(InteractionInSchema):
    """A stored interaction."""

    id = fields.String(dump_only=True)
    object = fields.String(dump_only=True)
    created_at = fields.Integer(dump_only=True, metadata={"description": "Unix seconds"})


class InteractionBatchInSchema(Schema):
    """Up to 1,000 interactions stored all together or not at all."""

    items = fields.List(
        fields.Nested(InteractionInSchema), required=True, validate=validate.Length(1, MAX_BATCH)
    )


class BatchCreatedSchema(Schema):
    """What a stored batch returns."""

    count = fields.Integer(required=True)
    ids = fields.List(fields.String(), required=True)


class InteractionQuerySchema(Schema):
    """Filters and cursor of the interaction list."""

    limit = limit_field(default=100, maximum=1000)
    after = fields.String(validate=validate.Length(1, 64))
    task_type = task_type()
    min_rating = fields.Float(allow_nan=False, validate=validate.Range(0.0, 1.0))


class InteractionPageSchema(Schema):
    """One page of interactions."""

    object = fields.Constant("list")
    data = fields.List(fields.Nested(InteractionSchema), required=True)
    has_more = fields.Boolean(required=True)


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
