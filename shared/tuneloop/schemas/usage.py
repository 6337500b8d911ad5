"""A project's usage: what it stores, in bytes and counts, and its budget."""

from marshmallow import Schema, fields

from tuneloop.store.budget import KINDS


class ProjectKindUsageSchema(Schema):
    """What one kind of record takes."""

    bytes = fields.Integer(required=True, metadata={"description": "bytes stored"})
    count = fields.Integer(required=True, metadata={"description": "records stored"})


class ProjectUsageSchema(Schema):
    """GET /v1/usage: the calling key's project's stored bytes and counts."""

    object = fields.Constant("project.usage", required=True)
    project = fields.String(required=True)
    bytes = fields.Integer(
        required=True,
        metadata={"description": "bytes stored in all: what the budget is counted against"},
    )
    budget_bytes = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "TUNELOOP_MAX_PROJECT_BYTES (null: no budget)"},
    )
    by_kind = fields.Dict(
        keys=fields.String(metadata={"enum": list(KINDS)}),
        values=fields.Nested(ProjectKindUsageSchema),
        required=True,
        metadata={
            "description": "bytes and counts of interactions, files, eval_sets, cases and models"
        },
    )
    jobs = fields.Integer(required=True, metadata={"description": "jobs stored"})
