"""Schemas of GET /v1/jobs/{a}/compare?with={b}: two finished jobs side by side (B minus A)."""

from marshmallow import Schema, fields

from tuneloop.report.compare_cases import LISTED
from tuneloop.report.compare_stats import PAIRED, UNPAIRED
from tuneloop.schemas.results import EpochSchema


class ComparisonQuerySchema(Schema):
    """Which job to compare the job in the path (A) with."""

    with_ = fields.String(
        data_key="with",
        required=True,
        metadata={"description": "the id of job B; every change is B minus A"},
    )


class ComparedJobSchema(Schema):
    """What names one of the two jobs."""

    id = fields.String()
    status = fields.String()
    kind = fields.String()
    model_id = fields.String(allow_none=True)
    created_at = fields.Integer(allow_none=True)
    finished_at = fields.Integer(allow_none=True)
    best_epoch = fields.Integer(allow_none=True)


class ComparisonCurvesSchema(Schema):
    """Each job's train and validation loss per epoch."""

    a = fields.List(fields.Nested(EpochSchema))
    b = fields.List(fields.Nested(EpochSchema))


class ConfigDifferenceSchema(Schema):
    """One configuration value that differs between the jobs."""

    path = fields.String(
        metadata={
            "description": "dotted path: kind, request.<field> (as sent, defaults filled) or "
            "used.<hyperparameter> (as the job resolved it)"
        }
    )
    a = fields.Raw(allow_none=True)
    b = fields.Raw(allow_none=True)
    missing = fields.String(
        allow_none=True, metadata={"description": "a or b: the side without this path"}
    )


class MetricDeltaSchema(Schema):
    """One metric of both fine-tuned agents and its change."""

    name = fields.String()
    a = fields.Float(allow_none=True)
    b = fields.Float(allow_none=True)
    delta = fields.Float(allow_none=True, metadata={"description": "b - a"})
    ci95 = fields.List(
        fields.Float(),
        allow_none=True,
        metadata={"description": "95% interval of the change; null when undefined"},
    )
    method = fields.String(
        allow_none=True,
        metadata={"description": f"{PAIRED} or {UNPAIRED} (see intervals.methods)"},
    )


class ComparisonBootstrapSchema(Schema):
    """The paired bootstrap's settings."""

    resamples = fields.Integer()
    seed = fields.Integer()


class ComparisonIntervalsSchema(Schema):
    """How the intervals were computed: only the methods used are listed."""

    confidence_level = fields.Float()
    methods = fields.Dict(keys=fields.String(), values=fields.String())
    bootstrap = fields.Nested(ComparisonBootstrapSchema)


class TaskDeltaSchema(Schema):
    """One task type's fine-tuned task accuracy in both jobs."""

    task_type = fields.String()
    a = fields.Float(allow_none=True, metadata={"description": "null: A had no such case"})
    b = fields.Float(allow_none=True, metadata={"description": "null: B had no such case"})
    delta = fields.Float(allow_none=True)
    a_cases = fields.Integer()
    b_cases = fields.Integer()


class ComparedAnswerSchema(Schema):
    """One job's fine-tuned outcome on a case (the answer only when its job kept it)."""

    correct = fields.Boolean()
    task_type = fields.String(allow_none=True)
    text = fields.String(allow_none=True)
    confidence = fields.Float(allow_none=True)


class ComparedCaseSchema(Schema):
    """A case one job's fine-tuned agent routed right and the other's wrong."""

    index = fields.Integer()
    input = fields.String()
    expected_type = fields.String()
    a = fields.Nested(ComparedAnswerSchema)
    b = fields.Nested(ComparedAnswerSchema)


class ComparedCaseListSchema(Schema):
    """How many such cases there are, and the first of them."""

    count = fields.Integer()
    data = fields.List(
        fields.Nested(ComparedCaseSchema), metadata={"description": f"the first {LISTED}"}
    )


class ComparisonCasesSchema(Schema):
    """The cases matched by input text."""

    paired = fields.Boolean(
        metadata={
            "description": "true when both jobs were evaluated on the same cases with the same "
            "baseline: every case is then compared, and task accuracy gets a paired interval"
        }
    )
    reason = fields.String(metadata={"description": "why the cases pair, or why not"})
    n_cases = fields.Dict(keys=fields.String(), values=fields.Integer())
    matched = fields.Integer(
        metadata={"description": "inputs found in both jobs' kept (changed) cases"}
    )
    a_right_b_wrong = fields.Nested(ComparedCaseListSchema)
    b_right_a_wrong = fields.Nested(ComparedCaseListSchema)


class JobComparisonSchema(Schema):
    """Two finished jobs compared: losses, configuration, metrics, task types and cases."""

    object = fields.Constant("job.comparison")
    a = fields.Nested(ComparedJobSchema)
    b = fields.Nested(ComparedJobSchema)
    loss_curves = fields.Nested(ComparisonCurvesSchema)
    config_diff = fields.List(fields.Nested(ConfigDifferenceSchema))
    metrics = fields.List(fields.Nested(MetricDeltaSchema))
    intervals = fields.Nested(ComparisonIntervalsSchema)
    tasks = fields.List(fields.Nested(TaskDeltaSchema))
    cases = fields.Nested(ComparisonCasesSchema)
