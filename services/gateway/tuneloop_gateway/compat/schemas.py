"""OpenAI-compatible resources: fine-tuning jobs, their events and checkpoints, files, errors."""

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from tuneloop import contracts
from tuneloop.schemas.chat_file import ROLES, ContentField
from tuneloop.schemas.common import FullMatch, StrictFloat, event_cursor, limit_field
from tuneloop.schemas.method import (  # noqa: F401 (OpenAI's schemas, named here too)
    DpoHyperparametersSchema,
    FineTuningHyperparametersSchema,
    MethodSchema,
    method_hyperparameters,
)
from tuneloop.store import ids

FILE_ID = FullMatch(ids.FILE.anchored, error="must be a file id such as file-0123…")
FILE_PURPOSES = ("fine-tune",)
JOB_STATUSES = ("validating_files", *contracts.STATUSES)
EXTRAS = "tuneloop"  # the key of our own fields in OpenAI's objects


class OpenAIErrorBodySchema(Schema):
    """OpenAI's error object."""

    message = fields.String(required=True)
    type = fields.String(required=True)
    param = fields.String(required=True, allow_none=True)
    code = fields.String(required=True, allow_none=True)


class OpenAIErrorSchema(Schema):
    """Every error of the OpenAI-compatible routes: {"error": {message, type, param, code}}."""

    error = fields.Nested(OpenAIErrorBodySchema, required=True)


def _metadata_values(value: dict) -> None:
    """OpenAI's metadata: up to 16 string pairs, keys up to 64 and values up to 512 characters."""
    if len(value) > 16:
        raise ValidationError("holds at most 16 pairs")
    for k, v in value.items():
        if not isinstance(v, str) or len(v) > 512 or len(k) > 64:
            raise ValidationError(f"{k!r}: keys hold up to 64 and values up to 512 characters")


class FineTuningJobCreateSchema(Schema):
    """POST /v1/fine_tuning/jobs."""

    class Meta:
        unknown = RAISE

    model = fields.String(
        required=True,
        validate=validate.Length(1, 128),
        metadata={
            "description": f"the base model: {contracts.BASELINE_MODEL_ID} or a registered "
            "base language model (GET /v1/models); another is a 400 naming them"
        },
    )
    training_file = fields.String(required=True, validate=FILE_ID)
    validation_file = fields.String(allow_none=True, validate=FILE_ID)
    hyperparameters = fields.Nested(FineTuningHyperparametersSchema)
    method = fields.Nested(MethodSchema)
    suffix = fields.String(
        allow_none=True,
        validate=FullMatch(
            r"^[a-z0-9][a-z0-9-]{0,39}$",
            error="holds 1-40 lowercase letters, digits and '-' (ours: part of the model id)",
        ),
    )
    seed = fields.Integer(allow_none=True, strict=True, validate=validate.Range(0, 2**32 - 1))
    metadata = fields.Dict(
        keys=fields.String(), values=fields.String(), allow_none=True, validate=_metadata_values
    )
    integrations = fields.List(
        fields.Dict(),
        allow_none=True,
        validate=validate.Length(max=0, error="integrations are not supported"),
    )

    @validates_schema
    def _one_place_for_hyperparameters(self, data: dict, **kwargs: object) -> None:
        """Hyperparameters go at the top or under the method, not both."""
        nested = method_hyperparameters(data.get("method"))
        if nested is not None and data.get("hyperparameters") is not None:
            raise ValidationError("give hyperparameters once: here or in method", "hyperparameters")


class FineTuningJobErrorSchema(Schema):
    """Why a job failed."""

    code = fields.String(required=True)
    message = fields.String(required=True)
    param = fields.String(required=True, allow_none=True)


class FineTuningJobSchema(Schema):
    """OpenAI's fine_tuning.job object; our own fields are under "tuneloop"."""

    id = fields.String(required=True)
    object = fields.Constant("fine_tuning.job", required=True)
    model = fields.String(required=True)
    created_at = fields.Integer(required=True)
    finished_at = fields.Integer(required=True, allow_none=True)
    fine_tuned_model = fields.String(required=True, allow_none=True)
    organization_id = fields.String(
        required=True, metadata={"description": "the name of the API key that created the job"}
    )
    status = fields.String(required=True, validate=validate.OneOf(JOB_STATUSES))
    training_file = fields.String(
        required=True,
        metadata={"description": "a file id, or interactions@{seq} for a job of /v1/jobs"},
    )
    validation_file = fields.String(required=True, allow_none=True)
    hyperparameters = fields.Dict(required=True)
    method = fields.Dict(required=True)
    seed = fields.Integer(required=True)
    result_files = fields.List(fields.String(), required=True)
    trained_tokens = fields.Integer(required=True, allow_none=True)
    error = fields.Nested(FineTuningJobErrorSchema, required=True, allow_none=True)
    suffix = fields.String(required=True, allow_none=True)
    metadata = fields.Dict(required=True, allow_none=True)
    estimated_finish = fields.Integer(required=True, allow_none=True)
    integrations = fields.List(fields.Dict(), required=True)
    tuneloop = fields.Dict(
        required=True,
        data_key=EXTRAS,
        metadata={"description": "ours: kind, stage, progress, the report's headline figures"},
    )


class FineTuningJobPageSchema(Schema):
    """A page of jobs, newest first."""

    object = fields.Constant("list", required=True)
    data = fields.List(fields.Nested(FineTuningJobSchema), required=True)
    has_more = fields.Boolean(required=True)


class CursorQuerySchema(Schema):
    """after (the last id of the page before) and limit."""

    after = fields.String(validate=validate.Length(1, 64))
    limit = limit_field(20, 100)


class EventCursorQuerySchema(CursorQuerySchema):
    """after: the id of the last event of the page before."""

    after = event_cursor()


class FineTuningEventSchema(Schema):
    """OpenAI's fine_tuning.job.event."""

    id = fields.String(required=True)
    object = fields.Constant("fine_tuning.job.event", required=True)
    created_at = fields.Integer(required=True)
    level = fields.String(required=True, validate=validate.OneOf(("info", "warn", "error")))
    message = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(("message", "metrics")))
    data = fields.Dict(required=True)


class FineTuningEventPageSchema(Schema):
    """A page of events, newest first."""

    object = fields.Constant("list", required=True)
    data = fields.List(fields.Nested(FineTuningEventSchema), required=True)
    has_more = fields.Boolean(required=True)


class CheckpointMetricsSchema(Schema):
    """A checkpoint's metrics: the epoch's losses."""

    step = fields.Float(required=True)
    train_loss = fields.Float(required=True)
    valid_loss = fields.Float(required=True, allow_none=True)
    full_valid_loss = fields.Float(allow_none=True)


class CheckpointSchema(Schema):
    """OpenAI's fine_tuning.job.checkpoint."""

    id = fields.String(required=True)
    object = fields.Constant("fine_tuning.job.checkpoint", required=True)
    created_at = fields.Integer(required=True)
    fine_tuned_model_checkpoint = fields.String(required=True)
    fine_tuning_job_id = fields.String(required=True)
    step_number = fields.Integer(required=True)
    metrics = fields.Nested(CheckpointMetricsSchema, required=True)


class CheckpointPageSchema(Schema):
    """The kept checkpoints."""

    object = fields.Constant("list", required=True)
    data = fields.List(fields.Nested(CheckpointSchema), required=True)
    has_more = fields.Boolean(required=True)


class FileUploadSchema(Schema):
    """The form fields of POST /v1/files."""

    purpose = fields.String(
        required=True,
        validate=validate.OneOf(FILE_PURPOSES, error="only 'fine-tune' files are accepted"),
    )


class FileObjectSchema(Schema):
    """OpenAI's file object; what we read from it under "tuneloop"."""

    id = fields.String(required=True)
    object = fields.Constant("file", required=True)
    bytes = fields.Integer(required=True)
    created_at = fields.Integer(required=True)
    filename = fields.String(required=True)
    purpose = fields.String(required=True)
    status = fields.String(required=True)
    expires_at = fields.Integer(required=True, allow_none=True)
    status_details = fields.String(required=True, allow_none=True)
    tuneloop = fields.Dict(
        required=True,
        data_key=EXTRAS,
        metadata={
            "description": "ours: stored_bytes; once processed, rows, task_distribution, "
            "unlabelled_rows and lines (chat or preference); in error, bad_lines and errors"
        },
    )


class FilePageSchema(Schema):
    """A page of files, newest first."""

    object = fields.Constant("list", required=True)
    data = fields.List(fields.Nested(FileObjectSchema), required=True)
    has_more = fields.Boolean(required=True)


class FileQuerySchema(CursorQuerySchema):
    """GET /v1/files."""

    purpose = fields.String(validate=validate.OneOf(FILE_PURPOSES))


class FileDeletedSchema(Schema):
    """The answer to DELETE /v1/files/{id}."""

    id = fields.String(required=True)
    object = fields.Constant("file", required=True)
    deleted = fields.Boolean(required=True)


class ChatMessageSchema(Schema):
    """One message of a chat completion request."""

    class Meta:
        unknown = INCLUDE  # name, tool_call_id…: accepted, not used

    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    content = ContentField(required=True, allow_none=True)


# OpenAI's bookkeeping parameters: accepted, and without effect (documented in the README).
IGNORED_CHAT_PARAMS = (
    "presence_penalty",
    "frequency_penalty",
    "user",
    "metadata",
    "store",
    "logit_bias",
    "service_tier",
    "parallel_tool_calls",
)


IgnoredChatParamsSchema = Schema.from_dict(
    {name: fields.Raw(allow_none=True) for name in IGNORED_CHAT_PARAMS},
    name="IgnoredChatParamsSchema",
)
MAX_STOPS = 4


class StopField(fields.Field):
    """stop: a string or a list of up to MAX_STOPS strings."""

    def _deserialize(self, value: object, attr: object, data: object, **kwargs: object) -> object:
        if isinstance(value, str):
            return value
        strings = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        if strings and len(value) <= MAX_STOPS:  # type: ignore[arg-type]
            return value
        raise ValidationError(f"must be a string or a list of up to {MAX_STOPS} strings")


class StreamOptionsSchema(Schema):
    """stream_options: a last chunk with the usage when include_usage is true."""

    class Meta:
        unknown = RAISE

    include_usage = fields.Boolean(load_default=False)


class ChatCompletionInSchema(IgnoredChatParamsSchema):  # type: ignore[misc, valid-type]
    """POST /v1/chat/completions: the last user message is answered by the model."""

    class Meta:
        unknown = RAISE

    model = fields.String(required=True, validate=validate.Length(1, 128))
    messages = fields.List(
        fields.Nested(ChatMessageSchema), required=True, validate=validate.Length(1, 1000)
    )
    stream = fields.Boolean(
        load_default=False,
        metadata={
            "description": "a language model answers as server-sent chat.completion.chunk "
            "events ending with [DONE]; other models refuse it with 400"
        },
    )
    stream_options = fields.Nested(StreamOptionsSchema, allow_none=True)
    # Sampling: honoured by language models; the stand-in agent's answer is deterministic.
    max_tokens = fields.Integer(allow_none=True, strict=True, validate=validate.Range(1, 32768))
    max_completion_tokens = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(1, 32768)
    )
    temperature = StrictFloat(allow_nan=False, allow_none=True, validate=validate.Range(0, 2))
    top_p = StrictFloat(
        allow_nan=False, allow_none=True, validate=validate.Range(0, 1, min_inclusive=False)
    )
    stop = StopField(
        allow_none=True,
        metadata={
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "maxItems": MAX_STOPS},
            ]
        },
    )
    seed = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(-(2**63), 2**63 - 1)
    )
    n = fields.Integer(
        load_default=1, validate=validate.Equal(1, error="only one choice (n=1) is supported")
    )

    @validates_schema
    def _has_a_question(self, data: dict, **kwargs: object) -> None:
        """The last user message holds the text to answer."""
        users = [m for m in data.get("messages", []) if m["role"] == "user"]
        if not users or not (users[-1]["content"] or "").strip():
            raise ValidationError("needs a user message with text to answer", "messages")


class ChatMessageOutSchema(Schema):
    """The assistant's message."""

    role = fields.Constant("assistant", required=True)
    content = fields.String(required=True)
    refusal = fields.String(required=True, allow_none=True)


class ChatChoiceSchema(Schema):
    """The one choice."""

    index = fields.Integer(required=True)
    message = fields.Nested(ChatMessageOutSchema, required=True)
    finish_reason = fields.String(required=True)
    logprobs = fields.Dict(required=True, allow_none=True)


class UsageSchema(Schema):
    """Token counts: words and punctuation marks (the README states the rule)."""

    prompt_tokens = fields.Integer(required=True)
    completion_tokens = fields.Integer(required=True)
    total_tokens = fields.Integer(required=True)


class ChatCompletionSchema(Schema):
    """OpenAI's chat.completion; the agent's task, confidence and reasoning under tuneloop."""

    id = fields.String(required=True)
    object = fields.Constant("chat.completion", required=True)
    created = fields.Integer(required=True)
    model = fields.String(required=True)
    choices = fields.List(fields.Nested(ChatChoiceSchema), required=True)
    usage = fields.Nested(UsageSchema, required=True)
    system_fingerprint = fields.String(required=True, allow_none=True)
    tuneloop = fields.Dict(required=True, data_key=EXTRAS)
