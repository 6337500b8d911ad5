"""Schemas of what the stages produce: examples, training data, metrics, the report."""

from marshmallow import Schema, fields, validate

from tuneloop.schemas.common import StrictFloat


class ExampleSchema(Schema):
    """A training example as collect hands it to filter; filter drops rows that fail it."""

    id = fields.String(allow_none=True)
    input = fields.String(required=True)
    output = fields.String(required=True)
    rating = StrictFloat(required=True, allow_nan=False, validate=validate.Range(0.0, 1.0))
    task_type = fields.String(required=True)
    source = fields.String()


class TrainingDataSchema(Schema):
    """The prepared data: what trains, what is held out, what was dropped and why."""

    total_examples = fields.Integer()
    task_distribution = fields.Dict(keys=fields.String(), values=fields.Integer())
    validation_examples = fields.Integer()
    validation_distribution = fields.Dict(keys=fields.String(), values=fields.Integer())
    holdout_examples = fields.Integer(
        metadata={"description": "held out by holdout_fraction and evaluated, never trained on"}
    )
    holdout_distribution = fields.Dict(keys=fields.String(), values=fields.Integer())
    dropped = fields.Dict(keys=fields.String(), values=fields.Integer())


class MetricValuesSchema(Schema):
    """The lab's four metrics over a set of evaluation cases (see the README)."""

    n_cases = fields.Integer()
    average_confidence = fields.Float()
    task_accuracy = fields.Float()
    response_quality = fields.Float(allow_none=True)
    overall_score = fields.Float()


class MetricsSchema(MetricValuesSchema):
    """Metrics over all cases and per expected task type."""

    by_task_type = fields.Dict(keys=fields.String(), values=fields.Nested(MetricValuesSchema))


class ChangeSchema(Schema):
    """Change of one metric from baseline to fine-tuned."""

    absolute = fields.Float(allow_none=True)
    relative = fields.Float(allow_none=True)


class EpochSchema(Schema):
    """Losses after one epoch, computed on the data."""

    epoch = fields.Integer()
    train_loss = fields.Float()
    valid_loss = fields.Float(allow_none=True)


class AnswerSchema(Schema):
    """One agent's answer to an input."""

    text = fields.String()
    confidence = fields.Float()
    reasoning = fields.String()
    task_type = fields.String()


class SideBySideSchema(Schema):
    """Both agents' answers to the same evaluation input."""

    input = fields.String()
    expected_type = fields.String()
    baseline = fields.Nested(AnswerSchema(only=("text", "task_type", "confidence")))
    fine_tuned = fields.Nested(AnswerSchema(only=("text", "task_type", "confidence")))


class JobResultSchema(Schema):
    """The report of a succeeded job."""

    training_data = fields.Nested(TrainingDataSchema)
    baseline_metrics = fields.Nested(MetricsSchema)
    fine_tuned_metrics = fields.Nested(MetricsSchema)
    improvement = fields.Dict(keys=fields.String(), values=fields.Nested(ChangeSchema))
    model_id = fields.String()
    hyperparameters = fields.Dict(metadata={"description": "the controls used, auto resolved"})
    epochs = fields.List(fields.Nested(EpochSchema))
    best_epoch = fields.Integer(metadata={"description": "the epoch whose weights the model has"})
    stopped_early = fields.Boolean()
    model_size_bytes = fields.Integer()
    examples = fields.List(fields.Nested(SideBySideSchema))
