"""Schemas of models and of asking a model for an answer."""

from marshmallow import Schema, fields

from tuneloop.schemas.common import text


class ModelSchema(Schema):
    """A model: the keyword baseline or a fine-tuned agent."""

    id = fields.String()
    object = fields.String()
    created_at = fields.Integer()
    owned_by = fields.String()
    base_model = fields.String(allow_none=True)
    job_id = fields.String(allow_none=True)
    format = fields.String(metadata={"description": "the agent type, as the registry knows it"})
    task_types = fields.List(fields.String())
    training_examples = fields.Integer(allow_none=True)
    size_bytes = fields.Integer(metadata={"description": "size of the saved model"})
    load_seconds = fields.Float(
        allow_none=True,
        metadata={"description": "time a worker took to load it from Redis (at evaluation)"},
    )


class ModelListSchema(Schema):
    """Every model."""

    object = fields.Constant("list")
    data = fields.List(fields.Nested(ModelSchema))


class ResponseInSchema(Schema):
    """An input for a model to answer."""

    input = text(required=True)


class ResponseSchema(Schema):
    """A model's answer."""

    text = fields.String()
    confidence = fields.Float()
    reasoning = fields.String()
    task_type = fields.String()
