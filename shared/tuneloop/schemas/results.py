"""Schemas of what the stages produce: examples, training data, metrics, the report."""

from marshmallow import Schema, fields, validate

from tuneloop.schemas.common import StrictFloat
from tuneloop.schemas.evidence import (
    CalibrationSchema,
    CasesCountSchema,
    JobAbstentionSchema,
    OutOfScopeSchema,
)
from tuneloop.schemas.promotion import PromotionSchema
from tuneloop.stages.compare import ALPHA, MIN_CASES, TOP_CONFUSIONS


class ExampleSchema(Schema):
    """A training example as collect hands it to filter; filter drops rows that fail it."""

    id = fields.String(allow_none=True)
    input = fields.String(required=True)
    output = fields.String(required=True)
    rating = StrictFloat(required=True, allow_nan=False, validate=validate.Range(0.0, 1.0))
    task_type = fields.String(required=True)
    source = fields.String()
    scores = fields.Dict(keys=fields.String(), values=StrictFloat(allow_nan=False))


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
    response_quality = fields.Float(
        allow_none=True,
        metadata={"description": "mean token F1 against reference_output; null without any"},
    )
    response_chrf = fields.Float(
        allow_none=True,
        metadata={
            "description": "mean sentence-level chrF (sacrebleu defaults: character 6-grams, "
            "beta 2) against reference_output, scaled to 0-1; stricter than token F1 on word "
            "forms and order; not part of overall_score; null without any reference"
        },
    )
    overall_score = fields.Float(
        metadata={"description": "mean of task_accuracy and response_quality (when defined)"}
    )
    # language-model jobs (tuneloop.llm.evaluation)
    n_pairs = fields.Integer(metadata={"description": "language models: held-out pairs"})
    mean_token_nll = fields.Float(
        allow_none=True,
        metadata={
            "description": "language models: mean per-token negative log-likelihood (nats) of "
            "the best-rated answer to each held-out prompt; lower is better"
        },
    )
    perplexity = fields.Float(allow_none=True, metadata={"description": "exp(mean_token_nll)"})
    preference_accuracy = fields.Float(
        allow_none=True,
        metadata={
            "description": "language models: share of held-out preference pairs whose chosen "
            "answer has the higher log-probability; null without pairs"
        },
    )


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
    response_chrf = interval("response_chrf (null without reference outputs)")
    overall_score = interval("overall_score")
    mean_token_nll = interval("mean_token_nll (language models)")
    perplexity = interval("perplexity (language models)")
    preference_accuracy = interval("preference_accuracy (language models, null without pairs)")


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
    seed = fields.Integer(
        metadata={"description": "hyperparameters.seed (fine-tuning), request.seed (evaluation)"}
    )
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


class AdapterCheckpointSchema(EpochSchema):
    """A language model's adapter checkpoint at an epoch end, with its metrics."""

    step = fields.Integer()
    full_valid_loss = fields.Float(allow_none=True)


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
    reference = fields.String(metadata={"description": "language models: the best-rated answer"})
    baseline = fields.Nested(AnswerSchema(only=("text", "task_type", "confidence")))
    fine_tuned = fields.Nested(AnswerSchema(only=("text", "task_type", "confidence")))


class CaseSchema(Schema):
    """An evaluation case not both agents routed to its expected task type."""

    index = fields.Integer(
        metadata={"description": "the case's position in the evaluation suite (the cursor)"}
    )
    input = fields.String()
    expected_type = fields.String()
    reference_output = fields.String(allow_none=True)
    baseline = fields.Nested(AnswerSchema(only=("text", "task_type", "confidence")))
    fine_tuned = fields.Nested(AnswerSchema(only=("text", "task_type", "confidence")))


class CasePageSchema(Schema):
    """One page of a job's regressed, improved or wrong cases, by index."""

    object = fields.Constant("list")
    data = fields.List(fields.Nested(CaseSchema))
    has_more = fields.Boolean()


class EvaluatedModelsSchema(Schema):
    """Which model each side of an evaluation job's report is."""

    baseline = fields.String(metadata={"description": "model_a, the reference"})
    fine_tuned = fields.String(metadata={"description": "model_b, the candidate"})


class EmbeddingSchema(Schema):
    """What the embed stage encoded ahead for a model kind that reads embeddings."""

    texts = fields.Integer(metadata={"description": "texts the job embeds (rows and cases)"})
    encoded = fields.Integer(metadata={"description": "distinct texts encoded by this job"})
    cached = fields.Integer(metadata={"description": "distinct texts read from the cache"})
    parts = fields.Integer(metadata={"description": "parts the workers encoded"})
    seconds = fields.Float(
        metadata={"description": "from the first part's start to the last's end"}
    )


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
    abstention = fields.Nested(
        JobAbstentionSchema,
        allow_none=True,
        metadata={"description": "null without an out_of_scope_task"},
    )
    examples = fields.List(fields.Nested(SideBySideSchema))
    method = fields.String(metadata={"description": "language models: supervised or dpo"})
    checkpoints = fields.List(
        fields.Nested(AdapterCheckpointSchema),
        metadata={"description": "language models: each epoch's adapter checkpoint"},
    )
    lowest_valid_loss_epoch = fields.Integer(
        metadata={"description": "language models: the epoch with the lowest validation loss"}
    )
    training_tokens = fields.Integer(metadata={"description": "language models: tokens trained"})
    tokens_per_second = fields.Float(metadata={"description": "language models: training speed"})
    classification = fields.Nested(AgentsClassificationSchema)
    significance = fields.Nested(SignificanceSchema)
    calibration = fields.Nested(CalibrationSchema)
    out_of_scope = fields.Nested(
        OutOfScopeSchema,
        allow_none=True,
        metadata={"description": "null unless the job names an out_of_scope_task"},
    )
    cases = fields.Nested(
        CasesCountSchema,
        metadata={
            "description": "how many cases changed outcome, and how many the fine-tuned agent "
            "got wrong; each is listed at GET /v1/jobs/{id}/cases?outcome=regressed (or "
            "improved, wrong)"
        },
    )
    promotion = fields.Nested(
        PromotionSchema,
        metadata={"description": "the promote_if gate's decision (absent without promote_if)"},
    )
    models = fields.Nested(
        EvaluatedModelsSchema,
        metadata={"description": "evaluation jobs: the two models the report compares"},
    )
    embedding = fields.Nested(
        EmbeddingSchema,
        metadata={"description": "kinds that embed their inputs: what the embed stage encoded"},
    )
