"""Schemas of models and of asking a model for an answer."""

from marshmallow import Schema, fields

from tuneloop.schemas.common import id_prefix_field, text


class AliasSchema(Schema):
    """The alias a model was asked for by, and how it came to name that model."""

    name = fields.String(metadata={"description": "e.g. latest-promoted"})
    model_id = fields.String()
    job_id = fields.String(metadata={"description": "the job whose promotion gate it passed"})
    promoted_at = fields.Integer()


class AbstentionSchema(Schema):
    """How a model abstains: the task it answers as when unsure, and below what probability."""

    task = fields.String()
    threshold = fields.Float()
    similarity = fields.Float(
        allow_none=True,
        metadata={
            "description": "an encoder model also abstains when the nearest example of the "
            "routed task is less similar than this (null: no distance test)"
        },
    )


class EncoderSchema(Schema):
    """The sentence encoder an encoder-format model reads its inputs with."""

    name = fields.String()
    tag = fields.String(metadata={"description": "the encoder's cache tag (its model file)"})
    dim = fields.Integer()


class MixLossSchema(Schema):
    """One candidate share of the neighbours' vote and its validation log-loss."""

    mix = fields.Float()
    log_loss = fields.Float()


class NeighboursSchema(Schema):
    """An encoder model's nearest-neighbour vote, mixed with its router's probabilities."""

    rows = fields.Integer(metadata={"description": "training embeddings kept to vote"})
    k = fields.Integer()
    mix = fields.Float(metadata={"description": "the vote's share (0: the router alone)"})
    validation_log_loss = fields.List(
        fields.Nested(MixLossSchema),
        allow_none=True,
        metadata={"description": "each candidate mix on the validation split (lowest chosen)"},
    )


class ModelSchema(Schema):
    """A model: the keyword baseline, a base language model, or a fine-tuned one."""

    id = fields.String(required=True)
    object = fields.String(required=True)
    created_at = fields.Integer(required=True)
    created = fields.Integer(
        required=True,
        attribute="created_at",
        dump_only=True,
        metadata={"description": "created_at again, under OpenAI's name"},
    )
    owned_by = fields.String(required=True)
    base_model = fields.String(allow_none=True, required=True)
    job_id = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "the job that trained it (deleted since, it answers 404)"},
    )
    format = fields.String(metadata={"description": "the agent type, as the registry knows it"})
    location = fields.String(
        metadata={"description": "a base language model's weights: a directory or a hub id"}
    )
    adapter = fields.String(
        metadata={"description": "a fine-tuned language model's LoRA adapter (artifact key)"}
    )
    task_types = fields.List(fields.String())
    training_examples = fields.Integer(allow_none=True, required=True)
    size_bytes = fields.Integer(metadata={"description": "size of the saved model"}, required=True)
    load_seconds = fields.Float(
        allow_none=True,
        metadata={"description": "time a worker took to load it from Redis (at evaluation)"},
    )
    out_of_scope = fields.Nested(
        AbstentionSchema,
        allow_none=True,
        metadata={"description": "the out-of-scope task it abstains to (null: it never does)"},
    )
    encoder = fields.Nested(EncoderSchema, metadata={"description": "encoder models"})
    neighbours = fields.Nested(NeighboursSchema, metadata={"description": "encoder models"})
    aliases = fields.List(
        fields.String(),
        metadata={"description": "the aliases naming this model now"},
        required=True,
    )
    alias = fields.Nested(
        AliasSchema,
        allow_none=True,
        metadata={"description": "present when the model was asked for by an alias"},
    )


class ModelQuerySchema(Schema):
    """The model list's filter: the models whose ids start with a prefix."""

    id_prefix = id_prefix_field()


class ModelListSchema(Schema):
    """Every model."""

    object = fields.Constant("list")
    data = fields.List(fields.Nested(ModelSchema), required=True)


class ResponseInSchema(Schema):
    """An input for a model to answer."""

    input = text(required=True)


class ResponseSchema(Schema):
    """A model's answer."""

    model = fields.String(
        required=True,
        metadata={
            "description": "the model that answered (the one an alias names): rate the answer "
            "with it as the interaction's model, so an autopilot can tell its ratings apart"
        },
    )
    text = fields.String(required=True)
    confidence = fields.Float(required=True)
    reasoning = fields.String(required=True)
    task_type = fields.String(required=True)


class ModelDeletedSchema(Schema):
    """OpenAI's model deletion answer."""

    id = fields.String(required=True)
    object = fields.Constant("model", required=True)
    deleted = fields.Boolean(required=True)
