"""Schemas of autopilots: a trigger, a job template, the promotion gate and a rollback rule."""

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from tuneloop.autopilot.trigger import MIN_EVERY, parse_every
from tuneloop.contracts import AUTOPILOT_STATUSES
from tuneloop.schemas.common import IdPrefixQuery, StrictFloat, limit_field
from tuneloop.schemas.jobs import JobInSchema, JobRequestSchema
from tuneloop.schemas.promotion import PromoteRuleSchema

RUN_STATUSES = ("starting", "queued", "running", "pausing", "paused", "succeeded", "failed")
RUN_STATUSES += ("cancelled", "not_started")


def _period(value: str) -> None:
    """Reject a period that is not one, or shorter than MIN_EVERY."""
    try:
        seconds = parse_every(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    if seconds < MIN_EVERY:
        raise ValidationError(f"{value!r} is {seconds} s; the shortest period is {MIN_EVERY} s")


class AutopilotTriggerSchema(Schema):
    """When a run starts: after new_ratings more ratings, every so long, or whichever is first."""

    new_ratings = fields.Integer(
        validate=validate.Range(1, 10_000_000),
        metadata={"description": "start a run once this many ratings were added since the last"},
    )
    every = fields.String(
        validate=[validate.Length(1, 16), _period],
        metadata={"description": "start a run this long after the last, e.g. '30m', '6h', '1d'"},
    )

    @validates_schema
    def _one_at_least(self, data: dict, **kwargs: object) -> None:
        if not data.get("new_ratings") and not data.get("every"):
            raise ValidationError("give new_ratings, every, or both")


class AutopilotJobSchema(JobInSchema):
    """The job each run starts: the body of POST /v1/jobs, without an eval set or a gate."""

    @pre_load
    def _no_eval_set_or_gate(self, data: object, **kwargs: object) -> object:
        if isinstance(data, dict):
            if "eval_set" in data:
                raise ValidationError(
                    "an autopilot's runs evaluate on held-out ratings; it takes no eval_set",
                    "eval_set",
                )
            if "promote_if" in data:
                raise ValidationError(
                    "the autopilot's own promote_if gates its runs; give it there", "promote_if"
                )
        return data


class RollbackRuleSchema(Schema):
    """When the live model goes back: its own ratings below the previous model's."""

    window = fields.Integer(
        load_default=100,
        validate=validate.Range(10, 10_000),
        metadata={
            "description": "the last this many ratings of each model (its `model` field) are "
            "compared; no rollback until both have this many"
        },
    )
    margin = StrictFloat(
        load_default=0.0,
        allow_nan=False,
        validate=validate.Range(0.0, 1.0),
        metadata={"description": "how far below the previous mean the live mean must be"},
    )
    confidence = StrictFloat(
        load_default=0.95,
        allow_nan=False,
        validate=validate.Range(0.5, 0.999),
        metadata={
            "description": "the level of the difference's interval (Welch's t), which must "
            "lie wholly below -margin"
        },
    )


class AutopilotInSchema(Schema):
    """An autopilot as a client creates it."""

    name = fields.String(validate=validate.Length(1, 64), load_default=None)
    trigger = fields.Nested(AutopilotTriggerSchema, required=True)
    job = fields.Nested(AutopilotJobSchema, required=True)
    promote_if = fields.List(
        fields.Nested(PromoteRuleSchema),
        required=True,
        validate=validate.Length(1, 10),
        metadata={"description": "a run's model becomes latest-promoted only when all hold"},
    )
    rollback_if = fields.Nested(RollbackRuleSchema, load_default=None, allow_none=True)


class RolledBackSchema(Schema):
    """Why a run's promoted model was rolled back."""

    at = fields.Integer(metadata={"description": "Unix seconds"})
    restored_model_id = fields.String()
    live_mean = fields.Float()
    previous_mean = fields.Float()
    difference = fields.Float()
    low = fields.Float()
    high = fields.Float()
    confidence = fields.Float()
    margin = fields.Float()
    live_ratings = fields.Integer()
    previous_ratings = fields.Integer()
    reason = fields.String()


class AutopilotRunSchema(Schema):
    """One run: the job it started, why, and what came of it."""

    job_id = fields.String(required=True)
    reason = fields.String(required=True, metadata={"description": "why the run started"})
    started_at = fields.Integer(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(RUN_STATUSES),
        metadata={"description": "its job's status; not_started when the job was refused"},
    )
    finished_at = fields.Integer(allow_none=True)
    model_id = fields.String(allow_none=True)
    promoted = fields.Boolean(metadata={"description": "whether the gate promoted its model"})
    verdict = fields.String(metadata={"description": "the gate's outcome in one sentence"})
    error = fields.String(metadata={"description": "why the run did not start"})
    rolled_back = fields.Nested(RolledBackSchema, allow_none=True)


class AutopilotSchema(Schema):
    """A stored autopilot with its newest runs."""

    id = fields.String(required=True)
    object = fields.String(required=True)
    name = fields.String(allow_none=True, required=True)
    status = fields.String(required=True, validate=validate.OneOf(AUTOPILOT_STATUSES))
    trigger = fields.Nested(AutopilotTriggerSchema, required=True)
    job = fields.Nested(JobRequestSchema, required=True)
    promote_if = fields.List(fields.Nested(PromoteRuleSchema), required=True)
    rollback_if = fields.Nested(RollbackRuleSchema, allow_none=True, required=True)
    created_at = fields.Integer(required=True)
    last_run_at = fields.Integer(allow_none=True, required=True)
    new_ratings = fields.Integer(
        required=True, metadata={"description": "ratings added since the last run"}
    )
    runs_count = fields.Integer(required=True)
    in_flight = fields.String(
        allow_none=True, required=True, metadata={"description": "the running run's job id"}
    )
    runs = fields.List(
        fields.Nested(AutopilotRunSchema),
        required=True,
        metadata={"description": "the newest runs first (the last 100 are kept)"},
    )


class AutopilotPageSchema(Schema):
    """A page of autopilots."""

    data = fields.List(fields.Nested(AutopilotSchema), required=True)
    has_more = fields.Boolean(required=True)


class AutopilotQuerySchema(IdPrefixQuery):
    """The list's page size and cursor, or its id prefix."""

    limit = limit_field()
    after = fields.String(validate=validate.Length(1, 64))


class AutopilotDeletedSchema(Schema):
    """The answer to a delete."""

    id = fields.String(required=True)
    object = fields.String(required=True)
    deleted = fields.Boolean(required=True)
