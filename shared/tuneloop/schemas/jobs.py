"""Schemas of fine-tuning jobs and their events."""

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    missing,
    post_load,
    validate,
    validates_schema,
)

from tuneloop.agent import registry
from tuneloop.contracts import BASELINE_MODEL_ID, KINDS, RATING_SCORE, STAGES, STATUSES
from tuneloop.report.tradeoff import DEFAULT_MAX_IN_SCOPE_LOSS
from tuneloop.schemas.auto import AutoOr, auto_or  # noqa: F401 (AutoOr: named here too)
from tuneloop.schemas.common import (
    FullMatch,
    IdPrefixQuery,
    StrictBoolean,
    StrictFloat,
    event_cursor,
    limit_field,
    metadata,
    task_type,
    text,
)
from tuneloop.schemas.interactions import SCORE_NAME
from tuneloop.schemas.method import DPO, SUPERVISED, MethodSchema, flat, method_hyperparameters
from tuneloop.schemas.promotion import PromoteRuleSchema
from tuneloop.schemas.results import JobResultSchema
from tuneloop.stages.compare import CASE_OUTCOMES
from tuneloop.stages.prepare import AUTO, DEFAULT_HOLDOUT_FRACTION, DEFAULT_L2, DEFAULT_PATIENCE

MAX_EVAL_SET = 10_000
DEFAULT_MIN_GAP = 0.5
MAX_PROMOTION_RULES = 20
EVAL_SET_INCLUDE = "request.eval_set"


def _no_default(field: fields.Field) -> fields.Field:
    """The field without a load default: absent unless given."""
    field.load_default = missing
    return field


class HyperparametersSchema(Schema):
    """How the router is trained; the same values and data give the same model (README)."""

    n_epochs = auto_or(
        fields.Integer(strict=True, validate=validate.Range(1, 200)),
        {"type": "integer", "minimum": 1, "maximum": 200},
        "passes over the training data (1-200), or auto: ceil(150,000 / rows), 3-30",
    )
    learning_rate = auto_or(
        StrictFloat(allow_nan=False, validate=validate.Range(0, 10, min_inclusive=False)),
        {"type": "number", "exclusiveMinimum": 0, "maximum": 10},
        "AdaGrad step size (0-10], or auto: 0.2 x sqrt(batch_size / 32)",
    )
    batch_size = auto_or(
        fields.Integer(strict=True, validate=validate.Range(1, 4096)),
        {"type": "integer", "minimum": 1, "maximum": 4096},
        "rows per step (1-4096), or auto: rows / 300 as a power of two, 16-512",
    )
    learning_rate_multiplier = StrictFloat(
        allow_nan=False,
        validate=validate.Range(0, 1000, min_inclusive=False),
        metadata={
            "exclusiveMinimum": 0,
            "maximum": 1000,
            "description": "scales the auto learning_rate (OpenAI's name); "
            "not with a learning_rate given",
        },
    )
    seed = fields.Integer(load_default=42, strict=True, validate=validate.Range(0, 2**32 - 1))
    l2 = StrictFloat(
        load_default=DEFAULT_L2,
        allow_nan=False,
        validate=validate.Range(0, 1),
        metadata={"description": "L2 penalty on the weights a step touches"},
    )
    beta = _no_default(
        auto_or(
            StrictFloat(allow_nan=False, validate=validate.Range(0, 2, min_inclusive=False)),
            {"type": "number", "exclusiveMinimum": 0, "maximum": 2},
            "dpo only: DPO's beta (0-2], or auto: 0.1",
        )
    )
    early_stopping_patience = fields.Integer(
        load_default=DEFAULT_PATIENCE,
        allow_none=True,
        strict=True,
        validate=validate.Range(1, 200),
        metadata={
            "description": "stop after this many epochs without a lower validation loss "
            "(null: never); the model keeps the best epoch's weights"
        },
    )

    @validates_schema(pass_original=True)
    def _patience_within_epochs(self, data: dict, original: object, **kwargs: object) -> None:
        epochs, patience = data.get("n_epochs"), data.get("early_stopping_patience")
        given = isinstance(original, dict) and "early_stopping_patience" in original
        if given and isinstance(epochs, int) and patience is not None and patience > epochs:
            raise ValidationError(f"must not exceed n_epochs ({epochs})", "early_stopping_patience")
        if "learning_rate_multiplier" in data and data.get("learning_rate", "auto") != "auto":
            raise ValidationError("only scales an auto learning_rate", "learning_rate_multiplier")


class EvalCaseSchema(Schema):
    """One evaluation case: an input, the task it belongs to, optionally a good answer."""

    input = text(required=True)
    expected_type = task_type(required=True)
    reference_output = text()


def unknown_model(value: str) -> str | None:
    """Why a job may not name model value (no registered kind fine-tunes from it), or None."""
    if value in registry.BASE_MODELS:
        return None
    known = ", ".join(sorted(registry.BASE_MODELS))
    return f"{value!r} is not a registered base model; the registered ones are: {known}"


class JobInSchema(Schema):
    """A fine-tuning job request."""

    model = fields.String(
        validate=validate.Length(1, 128),
        metadata={
            "default": BASELINE_MODEL_ID,
            "description": "the base model to fine-tune; its model kind's trainer trains the "
            f"job ({BASELINE_MODEL_ID}, the default, trains the softmax agent); one that is "
            "not registered (GET /v1/models) is a 400 naming the registered ones",
        },
    )
    method = fields.Nested(
        MethodSchema,
        metadata={
            "description": "OpenAI's method object: supervised (the default) or dpo (a base "
            "language model only); its hyperparameters are the job's. Stored as the type."
        },
    )
    min_gap = StrictFloat(
        allow_nan=False,
        validate=validate.Range(0, 1),
        metadata={
            "default": DEFAULT_MIN_GAP,
            "description": "dpo from ratings: a prompt's best- and worst-rated answers make a "
            "pair when their ratings differ by at least this",
        },
    )
    min_score = StrictFloat(load_default=0.8, allow_nan=False, validate=validate.Range(0, 1))
    score_name = fields.String(
        load_default=RATING_SCORE,
        validate=[validate.Length(1, 64), SCORE_NAME],
        metadata={
            "description": "the score min_score applies to: rating (the interaction's own), "
            "or a name given with POST /v1/interactions/{id}/scores; an interaction without "
            "a score of this name is dropped (reason no_score)"
        },
    )
    task_types = fields.List(task_type(), validate=validate.Length(1, 1000))
    include_synthetic = StrictBoolean(
        load_default=False,
        metadata={"description": "add the teaching lab's five synthetic examples to the data"},
    )
    holdout_fraction = StrictFloat(
        allow_nan=False,
        validate=validate.Range(0, 0.9, min_inclusive=False),
        metadata={
            "exclusiveMinimum": 0,
            "description": "held out of training (by a seeded hash of the input) and added to "
            f"the evaluation suite; by default {DEFAULT_HOLDOUT_FRACTION}, with holdout_per_task, "
            "when the request has no eval_set and no lab_eval_set",
        },
    )
    holdout_per_task = StrictBoolean(
        metadata={
            "description": "stratify the holdout: hold out holdout_fraction of each task type's "
            "distinct inputs (rounded; at least one of a task type with two or more, never all) "
            "instead of a hash band over all inputs (needs holdout_fraction; set with the "
            "default holdout)"
        },
    )
    lab_eval_set = StrictBoolean(
        load_default=False,
        metadata={
            "description": "also evaluate on the teaching lab's five test cases (weather, "
            "travel, general), as make demo does"
        },
    )
    hyperparameters = fields.Nested(
        HyperparametersSchema, load_default=lambda: HyperparametersSchema().load({})
    )
    eval_set = fields.List(fields.Nested(EvalCaseSchema), validate=validate.Length(1, MAX_EVAL_SET))
    suffix = fields.String(validate=FullMatch(r"^[a-z0-9][a-z0-9-]{0,39}$"))
    metadata = metadata()
    out_of_scope_task = task_type(
        metadata={
            "description": "the task type of inputs that belong to no task: the fine-tuned agent "
            "answers as this task with a fallback answer when unsure (see abstain_threshold); "
            "it must be a task type of the stored interactions"
        }
    )
    abstain_threshold = StrictFloat(
        allow_nan=False,
        validate=validate.Range(0, 1),
        metadata={
            "description": "abstain when the router's top probability is below this (needs "
            "out_of_scope_task); by default chosen on the validation split (see "
            "max_in_scope_loss)"
        },
    )
    max_in_scope_loss = StrictFloat(
        allow_nan=False,
        validate=validate.Range(0, 1),
        metadata={
            "default": DEFAULT_MAX_IN_SCOPE_LOSS,
            "description": "the in-scope accuracy the chosen abstention threshold may lose on "
            "the validation split against never abstaining; the threshold chosen is the one "
            "with the best out-of-scope recall within it (needs out_of_scope_task, not with "
            "abstain_threshold)",
        },
    )
    promote_if = fields.List(
        fields.Nested(PromoteRuleSchema),
        validate=validate.Length(1, MAX_PROMOTION_RULES),
        metadata={
            "description": "promote the model (alias latest-promoted) when every rule holds; a "
            "failed gate is reported in result.promotion, the job still succeeds"
        },
    )

    @validates_schema(pass_original=True)
    def _method_is_consistent(self, data: dict, original: object, **kwargs: object) -> None:
        """Hyperparameters given once; beta and min_gap only for dpo."""
        given = original if isinstance(original, dict) else {}
        if method_hyperparameters(data.get("method")) is not None and "hyperparameters" in given:
            raise ValidationError("give hyperparameters once: here or in method", "hyperparameters")
        dpo = (data.get("method") or {}).get("type") == DPO
        if not dpo and "beta" in (data.get("hyperparameters") or {}):
            raise ValidationError("beta is a dpo hyperparameter", "hyperparameters")
        if not dpo and "min_gap" in data:
            raise ValidationError("only for method dpo", "min_gap")

    @post_load
    def _flatten_method(self, data: dict, **kwargs: object) -> dict:
        """Store the method's type, and its hyperparameters as the job's."""
        method = data.pop("method", None)
        hyper = method_hyperparameters(method)
        if hyper is not None:
            data["hyperparameters"] = {**data["hyperparameters"], **flat(hyper)}
        data["method"] = method["type"] if method else SUPERVISED
        if data["method"] == DPO:
            data["hyperparameters"].setdefault("beta", AUTO)
        return data

    @post_load
    def _evaluate_on_own_rows(self, data: dict, **kwargs: object) -> dict:
        """Hold out part of the user's own rows when the request names nothing to evaluate on."""
        if not data.get("eval_set") and not data["lab_eval_set"]:
            if "holdout_fraction" not in data:
                data.setdefault("holdout_per_task", True)
            data.setdefault("holdout_fraction", DEFAULT_HOLDOUT_FRACTION)
        if data.get("holdout_per_task") and "holdout_fraction" not in data:
            raise ValidationError("needs holdout_fraction", "holdout_per_task")
        return data

    @validates_schema
    def _scope_is_consistent(self, data: dict, **kwargs: object) -> None:
        """Refuse abstention settings without a task or together, and a task left out."""
        task, selected = data.get("out_of_scope_task"), data.get("task_types")
        for name in ("abstain_threshold", "max_in_scope_loss"):
            if name in data and task is None:
                raise ValidationError("needs out_of_scope_task", name)
        if "abstain_threshold" in data and "max_in_scope_loss" in data:
            raise ValidationError(
                "a given abstain_threshold is not chosen: send one or the other",
                "max_in_scope_loss",
            )
        if task is not None and selected and task not in selected:
            raise ValidationError(
                f"{task!r} is not one of the selected task_types", "out_of_scope_task"
            )


class JobRequestSchema(JobInSchema):
    """The request a job was created with, as the API shows it: its eval set by size."""

    method = fields.String(
        metadata={"description": "supervised or dpo (the type of the method object sent)"}
    )

    training_file = fields.String(
        metadata={"description": "jobs of /v1/fine_tuning/jobs: the file trained on"}
    )
    validation_file = fields.String(
        metadata={"description": "jobs of /v1/fine_tuning/jobs: the file evaluated on"}
    )

    eval_set = fields.List(
        fields.Nested(EvalCaseSchema),
        allow_none=True,
        metadata={
            "description": "the eval set's cases, only with ?include=request.eval_set "
            "(GET /v1/jobs/{job_id}); null once a failed or cancelled job's eval set expired "
            "(TUNELOOP_FAILED_JOB_TTL after its end)"
        },
    )
    eval_set_size = fields.Integer(
        metadata={
            "description": "how many cases the request's eval_set has (absent when it had none)"
        },
    )
    model_a = fields.String(
        metadata={"description": "evaluation jobs: the reference model (reported as baseline)"}
    )
    model_b = fields.String(
        metadata={"description": "evaluation jobs: the candidate model (reported as fine_tuned)"}
    )
    aliases = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "evaluation jobs: the alias each model was named by, if any"},
    )
    seed = fields.Integer(metadata={"description": "evaluation jobs: the bootstrap's seed"})


class ProgressSchema(Schema):
    """Completed steps (stages and epochs) out of all steps."""

    current = fields.Integer(required=True)
    total = fields.Integer(required=True)
    percent = fields.Float(required=True)


class JobErrorSchema(Schema):
    """Why a job failed."""

    code = fields.String(required=True)
    message = fields.String(required=True)
    stage = fields.String(required=True)


class JobSchema(Schema):
    """A fine-tuning job as the API shows it."""

    id = fields.String(required=True)
    object = fields.String(required=True)
    kind = fields.String(
        validate=validate.OneOf(KINDS),
        metadata={"description": "fine_tuning (POST /v1/jobs), evaluation (POST /v1/evaluations)"},
        required=True,
    )
    status = fields.String(validate=validate.OneOf(STATUSES), required=True)
    stage = fields.String(allow_none=True, validate=validate.OneOf(STAGES), required=True)
    progress = fields.Nested(ProgressSchema, required=True)
    created_at = fields.Integer(required=True)
    started_at = fields.Integer(allow_none=True, required=True)
    finished_at = fields.Integer(allow_none=True, required=True)
    model_id = fields.String(allow_none=True, required=True)
    hyperparameters = fields.Nested(
        HyperparametersSchema,
        allow_none=True,
        metadata={
            "description": "the request's controls; once prepared, auto resolved "
            "(null for evaluation jobs)"
        },
        required=True,
    )
    request = fields.Nested(JobRequestSchema, required=True)
    autopilot_id = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "the autopilot that started this job as one of its runs"},
    )
    result = fields.Nested(JobResultSchema, allow_none=True, required=True)
    error = fields.Nested(JobErrorSchema, allow_none=True, required=True)
    deliveries = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "how often each stage was started (more than 1 after a crash)"},
        required=True,
    )


class JobReadQuerySchema(Schema):
    """What GET /v1/jobs/{job_id} adds to the job when asked."""

    include = fields.List(
        fields.String(
            validate=validate.OneOf(
                [EVAL_SET_INCLUDE], error="unknown include {input!r}; known: {choices}"
            )
        ),
        load_default=list,
        metadata={"description": "request.eval_set: the eval set's cases, left out by default"},
    )


class JobQuerySchema(IdPrefixQuery):
    """Filters and cursor of the job list (newest first)."""

    status = fields.String(validate=validate.OneOf(STATUSES))
    kind = fields.String(validate=validate.OneOf(KINDS))
    limit = limit_field()
    after = fields.String(validate=validate.Length(1, 64))


class JobPageSchema(Schema):
    """One page of jobs, each without its eval set, examples, classification and calibration."""

    object = fields.Constant("list")
    data = fields.List(fields.Nested(JobSchema), required=True)
    has_more = fields.Boolean(required=True)


class JobDeletedSchema(Schema):
    """What deleting a job answers (as OpenAI's deletions: the id, the object, deleted)."""

    id = fields.String(required=True)
    object = fields.String(
        required=True, metadata={"description": "the job's object: fine_tuning.job, evaluation.job"}
    )
    deleted = fields.Constant(True, required=True)


class CaseQuerySchema(Schema):
    """Which of a job's evaluation cases to list, and the cursor (oldest index first)."""

    outcome = fields.String(
        required=True,
        validate=validate.OneOf(CASE_OUTCOMES),
        metadata={
            "description": "regressed: the baseline routed it right, the fine-tuned agent "
            "wrong; improved: the reverse; wrong: every case the fine-tuned agent routed wrong, "
            "whatever the baseline did (a job compared before wrong was kept answers 409)"
        },
    )
    limit = limit_field(default=20, maximum=100)
    after = fields.Integer(
        strict=False,
        validate=validate.Range(-1, 2**31),
        metadata={"description": "the last index of the page before (cases come by index)"},
    )


class EventQuerySchema(Schema):
    """Cursor of a job's events (oldest first)."""

    after = event_cursor()
    limit = limit_field(default=100, maximum=1000)


class EventSchema(Schema):
    """One thing that happened to a job."""

    id = fields.String(required=True)
    object = fields.String(required=True)
    created_at = fields.Integer(required=True)
    level = fields.String(required=True)
    type = fields.String(required=True)
    message = fields.String(required=True)
    data = fields.Dict(required=True)


class EventPageSchema(Schema):
    """One page of events."""

    object = fields.Constant("list")
    data = fields.List(fields.Nested(EventSchema), required=True)
    has_more = fields.Boolean(required=True)
