"""Schemas of how far a report's agents can be trusted: calibration, out of scope, cases."""

from marshmallow import Schema, fields, validate

from tuneloop.report.tradeoff import CURVE_THRESHOLDS


class ReliabilityBinSchema(Schema):
    """One confidence bin of a reliability table."""

    lower = fields.Float()
    upper = fields.Float(metadata={"description": "excluded, except 1.0 in the last bin"})
    count = fields.Integer(metadata={"description": "cases whose confidence falls in the bin"})
    mean_confidence = fields.Float(allow_none=True, metadata={"description": "null when empty"})
    accuracy = fields.Float(
        allow_none=True,
        metadata={"description": "share routed to the expected task type; null when empty"},
    )


class AgentCalibrationSchema(Schema):
    """How well one agent's confidence predicts whether it routes a case correctly."""

    ece = fields.Float(
        metadata={
            "description": "expected calibration error: the sum over bins of count / n_cases "
            "x |accuracy - mean_confidence| (0: confidence matches accuracy in every bin)"
        }
    )
    bins = fields.List(
        fields.Nested(ReliabilityBinSchema),
        metadata={"description": "ten equal-width bins over [0, 1], empty ones included"},
    )


class CalibrationSchema(Schema):
    """Calibration of both agents on the same cases."""

    baseline = fields.Nested(AgentCalibrationSchema)
    fine_tuned = fields.Nested(AgentCalibrationSchema)


class ScopeFiguresSchema(Schema):
    """How one agent treats in-scope and out-of-scope evaluation cases."""

    in_scope_accuracy = fields.Float(
        allow_none=True,
        metadata={"description": "share routed right among cases not expecting the task"},
    )
    out_of_scope_recall = fields.Float(
        allow_none=True,
        metadata={"description": "share answered as the task among the cases expecting it"},
    )
    out_of_scope_precision = fields.Float(
        allow_none=True,
        metadata={"description": "share expecting the task among the cases answered as it"},
    )
    n_in_scope = fields.Integer()
    n_out_of_scope = fields.Integer()


class TradeoffPointSchema(Schema):
    """One threshold of a trade-off curve and what it gives on the rows measured."""

    threshold = fields.Float(metadata={"description": "0: never abstain"})
    in_scope_accuracy = fields.Float(allow_none=True)
    out_of_scope_recall = fields.Float(allow_none=True)
    in_scope_loss = fields.Float(
        allow_none=True,
        metadata={"description": "in-scope accuracy without abstaining minus at this threshold"},
    )


class OutOfScopeSchema(Schema):
    """Both agents on the job's out-of-scope task."""

    task = fields.String(metadata={"description": "the job's out_of_scope_task"})
    threshold = fields.Float(
        allow_none=True,
        metadata={
            "description": "the top probability under which the fine-tuned agent abstains "
            "(null when fine-tuning recorded none)"
        },
    )
    baseline = fields.Nested(ScopeFiguresSchema)
    fine_tuned = fields.Nested(ScopeFiguresSchema)
    curve = fields.List(
        fields.Nested(TradeoffPointSchema),
        allow_none=True,
        metadata={
            "description": "the fine-tuned agent's in-scope accuracy against out-of-scope recall "
            "on these cases had it abstained at each threshold of the abstention's curve (0: "
            "never), lowest first; null when the agent does not say where it routed"
        },
    )


class CasesCountSchema(Schema):
    """How many evaluation cases changed outcome or were missed; listed at .../cases."""

    regressed = fields.Integer(
        metadata={"description": "the baseline routed right, the fine-tuned agent wrong"}
    )
    improved = fields.Integer(
        metadata={"description": "the fine-tuned agent routed right, the baseline wrong"}
    )
    wrong = fields.Integer(
        metadata={
            "description": "the fine-tuned agent routed wrong, whatever the baseline did "
            "(absent from jobs compared before these were kept)"
        }
    )


class ValidationScopeSchema(Schema):
    """The abstention threshold's figures on the validation split (rows, not eval cases)."""

    in_scope_accuracy = fields.Float(allow_none=True)
    out_of_scope_recall = fields.Float(allow_none=True)
    in_scope_loss = fields.Float(
        allow_none=True,
        metadata={"description": "in-scope accuracy without abstaining minus at this threshold"},
    )
    n_in_scope = fields.Integer()
    n_out_of_scope = fields.Integer()


class JobAbstentionSchema(Schema):
    """How fine-tuning set the agent's abstention on the out-of-scope task."""

    task = fields.String()
    threshold = fields.Float(
        metadata={"description": "the agent abstains when its top probability is below this"}
    )
    similarity = fields.Float(
        allow_none=True,
        metadata={
            "description": "an encoder model also abstains when the nearest example of the "
            "routed task is less similar than this (chosen with the threshold; null: no "
            "distance test)"
        },
    )
    chosen_by = fields.String(
        validate=validate.OneOf(("validation", "request", "default")),
        metadata={
            "description": "validation: the best out-of-scope recall on the validation split "
            "among thresholds losing at most max_in_scope_loss of in-scope accuracy; request: "
            "abstain_threshold; default: 0, no validation rows"
        },
    )
    max_in_scope_loss = fields.Float(
        allow_none=True,
        metadata={"description": "the limit the choice kept to (null: the request set it)"},
    )
    validation = fields.Nested(ValidationScopeSchema, allow_none=True)
    curve = fields.List(
        fields.Nested(TradeoffPointSchema),
        allow_none=True,
        metadata={
            "description": "in-scope accuracy against out-of-scope recall on the validation "
            "split at 0 (no abstention), the chosen threshold and "
            f"{', '.join(map(str, CURVE_THRESHOLDS))}, lowest first (null: no validation rows)"
        },
    )
