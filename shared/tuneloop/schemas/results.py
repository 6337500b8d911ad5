"""Schemas of what the stages produce: examples, training data, metrics, the report."""

from marshmallow import Schema, fields, validate

from tuneloop.schemas.common import StrictFloat
from tuneloop.stages.compare import ALPHA, MIN_CASES, TOP_CONFUSIONS


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


def interval(what: str) -> fields.List:
    """Return a field holding a 95% confidence interval [low, high], or null when undefined."""
    return fields.List(
        fields.Float(),
        allow_none=True,
        validate=validate.Length(equal=2),
        metadata={
            "description": f"95% CI of {what}: the 2.5th and 97.5th percentiles over the "
            "paired bootstrap resamples (see significance.bootstrap); null when undefined"
        },
    )


class IntervalsSchema(Schema):
    """The 95% confidence interval of each headline metric."""

    task_accuracy = interval("task_accuracy")
    macro_f1 = interval("macro_f1")
    average_confidence = interval("average_confidence")
    response_quality = interval("response_quality (null without reference outputs)")
    overall_score = interval("overall_score")


class MetricsSchema(MetricValuesSchema):
    """Metrics over all cases and per expected task type, with 95% intervals."""

    by_task_type = fields.Dict(keys=fields.String(), values=fields.Nested(MetricValuesSchema))
    macro_f1 = fields.Float(
        metadata={"description": "same as classification.<agent>.macro_f1"},
    )
    ci95 = fields.Nested(IntervalsSchema)


class ChangeSchema(Schema):
    """Change of one metric from baseline to fine-tuned, with 95% intervals."""

    absolute = fields.Float(allow_none=True)
    relative = fields.Float(allow_none=True)
    absolute_ci95 = interval("fine-tuned minus baseline, computed per resample")
    relative_ci95 = interval(
        "the change over the baseline, per resample (resamples with a baseline of 0 left out)"
    )


class TaskScoresSchema(Schema):
    """How one agent classifies one task type (scikit-learn, zero_division=0)."""

    precision = fields.Float()
    recall = fields.Float()
    f1 = fields.Float()
    support = fields.Integer(metadata={"description": "cases that expect this task type"})


class ConfusionSchema(Schema):
    """A mistake and how often it was made."""

    expected = fields.String()
    predicted = fields.String()
    count = fields.Integer()


class ClassificationSchema(Schema):
    """One agent's task routing as a classifier, scored with scikit-learn."""

    accuracy = fields.Float(metadata={"description": "equal to task_accuracy"})
    macro_f1 = fields.Float(
        metadata={
            "description": "mean F1 over the task types the evaluation cases expect; a type "
            "the agent only predicts is not averaged in (its mistakes lower the expected "
            "type's recall)"
        }
    )
    by_task_type = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(TaskScoresSchema),
        metadata={
            "description": "every task type expected or predicted (support 0: only predicted)"
        },
    )
    confused_pairs = fields.List(
        fields.Nested(ConfusionSchema),
        metadata={
            "description": f"the {TOP_CONFUSIONS} most frequent mistakes, most first (ties by name)"
        },
    )


class AgentsClassificationSchema(Schema):
    """Classification truth of both agents on the same cases."""

    baseline = fields.Nested(ClassificationSchema)
    fine_tuned = fields.Nested(ClassificationSchema)


class BootstrapSchema(Schema):
    """How the confidence intervals were computed."""

    resamples = fields.Integer()
    seed = fields.Integer(metadata={"description": "the job's hyperparameters seed"})
    confidence_level = fields.Float()
    method = fields.String()


class McNemarSchema(Schema):
    """Paired correctness of the two agents and McNemar's exact test on it."""

    both_correct = fields.Integer()
    baseline_only_correct = fields.Integer()
    fine_tuned_only_correct = fields.Integer()
    both_wrong = fields.Integer()
    p_value = fields.Float(
        metadata={"description": "two-sided; no discordant case gives 1.0; below ~1e-308 it is 0"}
    )
    test = fields.String()


class SignificanceSchema(Schema):
    """Whether the evaluation can tell the agents apart on task accuracy."""

    n_cases = fields.Integer()
    bootstrap = fields.Nested(BootstrapSchema)
    mcnemar = fields.Nested(McNemarSchema)
    conclusive = fields.Boolean(
        metadata={
            "description": f"true only when there are at least {MIN_CASES} evaluation cases, "
            "the 95% CI of the task-accuracy change excludes 0 and McNemar's p-value is below "
            f"{ALPHA}; false means the report cannot tell whether fine-tuning changed task accuracy"
        }
    )
    verdict = fields.String(metadata={"description": "the conclusion in one plain sentence"})


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
    classification = fields.Nested(AgentsClassificationSchema)
    significance = fields.Nested(SignificanceSchema)
