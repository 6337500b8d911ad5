"""Schemas of fine-tuning jobs and their events."""

from marshmallow import Schema, fields, validate

from tuneloop.contracts import STAGES, STATUSES
from tuneloop.schemas.common import (
    FullMatch,
    StrictBoolean,
    StrictFloat,
    limit_field,
    metadata,
    stream_id,
    task_type,
    text,
)
from tuneloop.schemas.results import JobResultSchema

MAX_EVAL_SET = 10_000


class HyperparametersSchema(Schema):
    """How the router is trained; the same values and data give the same model."""

    n_epochs = fields.Integer(load_default=20, strict=True, validate=validate.Range(1, 200))
    learning_rate = StrictFloat(
        load_default=0.5,
        allow_nan=False,
        validate=validate.Range(0, 10, min_inclusive=False),
        metadata={"exclusiveMinimum": 0},
    )
    batch_size = fields.Integer(load_default=32, strict=True, validate=validate.Range(1, 4096))
    seed = fields.Integer(load_default=42, strict=True, validate=validate.Range(0, 2**32 - 1))


class EvalCaseSchema(Schema):
    """One evaluation case: an input, the task it belongs to, optionally a good answer."""

    input = text(required=True)
    expected_type = task_type(required=True)
    reference_output = text()


class JobInSchema(Schema):
    """A fine-tuning job request."""

    min_score = StrictFloat(load_default=0.8, allow_nan=False, validate=validate.Range(0, 1))
    task_types = fields.List(task_type(), validate=validate.Length(1, 1000))
    include_synthetic = StrictBoolean(load_default=True)
    holdout_fraction = StrictFloat(
        allow_nan=False,
        validate=validate.Range(0, 0.9, min_inclusive=False),
        metadata={
            "exclusiveMinimum": 0,
            "description": "held out of training and added to the evaluation suite",
        },
    )
    hyperparameters = fields.Nested(
        HyperparametersSchema, load_default=lambda: HyperparametersSchema().load({})
    )
    eval_set = fields.List(fields.Nested(EvalCaseSchema), validate=validate.Length(1, MAX_EVAL_SET))
    suffix = fields.String(validate=FullMatch(r"^[a-z0-9][a-z0-9-]{0,39}$"))
    metadata = metadata()


class ProgressSchema(Schema):
    """Completed steps (stages and epochs) out of all steps."""

    current = fields.Integer()
    total = fields.Integer()
    percent = fields.Float()


class JobErrorSchema(Schema):
    """Why a job failed."""

    code = fields.String()
    message = fields.String()
    stage = fields.String()


class JobSchema(Schema):
    """A fine-tuning job as the API shows it."""

    id = fields.String()
    object = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))
    stage = fields.String(allow_none=True, validate=validate.OneOf(STAGES))
    progress = fields.Nested(ProgressSchema)
    created_at = fields.Integer()
    started_at = fields.Integer(allow_none=True)
    finished_at = fields.Integer(allow_none=True)
    model_id = fields.String(allow_none=True)
    request = fields.Nested(JobInSchema)
    result = fields.Nested(JobResultSchema, allow_none=True)
    error = fields.Nested(JobErrorSchema, allow_none=True)
    deliveries = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "how often each stage was started (more than 1 after a crash)"},
    )


class JobQuerySchema(Schema):
    """Filters and cursor of the job list (newest first)."""

    status = fields.String(validate=validate.OneOf(STATUSES))
    limit = limit_field()
    after = fields.String(validate=validate.Length(1, 64))


class JobPageSchema(Schema):
    """One page of jobs; each without its eval set and example answers (see GET /v1/jobs/{id})."""

    object = fields.Constant("list")
    data = fields.List(fields.Nested(JobSchema))
    has_more = fields.Boolean()


class EventQuerySchema(Schema):
    """Cursor of a job's events (oldest first)."""

    after = fields.String(validate=[FullMatch(r"^[0-9]{1,20}-[0-9]{1,20}$"), stream_id])
    limit = limit_field(default=100, maximum=1000)


class EventSchema(Schema):
    """One thing that happened to a job."""

    id = fields.String()
    object = fields.String()
    created_at = fields.Integer()
    level = fields.String()
    type = fields.String()
    message = fields.String()
    data = fields.Dict()


class EventPageSchema(Schema):
    """One page of events."""

    object = fields.Constant("list")
    data = fields.List(fields.Nested(EventSchema))
    has_more = fields.Boolean()
