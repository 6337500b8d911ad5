"""OpenAI's fine-tuning API on our job store: create, list, get, events, cancel, pause, resume,
checkpoints."""

import time
from typing import NoReturn

from flask import Response
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import ValidationError

from tuneloop.agent import registry
from tuneloop.contracts import FILE_PROCESSED, FILE_UPLOADED
from tuneloop.graph import FINE_TUNING, progress_total
from tuneloop.llm import spec
from tuneloop.schemas.chat_file import trusted_batches
from tuneloop.schemas.jobs import MAX_EVAL_SET, JobInSchema
from tuneloop.schemas.method import SUPERVISED
from tuneloop_gateway.auth import JOBS, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.compat.convert import (
    checkpoints,
    eval_cases,
    openai_event,
    openai_job,
    our_request,
)
from tuneloop_gateway.compat.schemas import (
    CheckpointPageSchema,
    CursorQuerySchema,
    EventCursorQuerySchema,
    FineTuningEventPageSchema,
    FineTuningJobCreateSchema,
    FineTuningJobPageSchema,
    FineTuningJobSchema,
)
from tuneloop_gateway.extensions import project_store
from tuneloop_gateway.idempotency import idempotent
from tuneloop_gateway.jobs_service import (
    cancel_job,
    check_model,
    create_and_queue,
    invalid,
    pause_job,
    resume_job,
)

blp = Blueprint(
    "openai_fine_tuning",
    __name__,
    url_prefix="/v1/fine_tuning/jobs",
    description="OpenAI-compatible fine-tuning jobs, on the same job store as /v1/jobs",
)


def refuse(field: str, message: str) -> NoReturn:
    """Answer 400 naming the field."""
    abort(400, message=message, errors={field: [message]})


def checked_file(field: str, file_id: str) -> dict:
    """Return a file's record once its check passed; 422 when there is no such file, 400
    naming the file and its status while it waits for its check, or when the check failed."""
    record = project_store().files.get(file_id)
    if record is None:
        invalid(field, f"no file with id {file_id!r}")
    status = record["status"]
    if status == FILE_UPLOADED:
        refuse(
            field,
            f"file {file_id} is not processed yet (status {status}): wait until its status is "
            f"{FILE_PROCESSED} (the SDK's files.wait_for_processing), then create the job",
        )
    if status != FILE_PROCESSED:
        refuse(field, f"file {file_id} has status {status}: {record['status_details']}")
    return record


def labelled(field: str, record: dict) -> int:
    """Return how many rows of a checked file have a task type; 400 when none has (the
    stand-in agent learns routing from task types), read from the check's summary."""
    summary = record["tuneloop"]
    count = summary["rows"] - summary["unlabelled_rows"]
    if not count:
        refuse(
            field,
            f"none of the {summary['rows']} rows of file {record['id']} has metadata.task_type: "
            "this agent learns to route inputs to task types, so every row needs one to train "
            "or evaluate on",
        )
    return count


def validation_cases(record: dict) -> list[dict]:
    """Return a checked validation file's labelled rows as evaluation cases (at most
    MAX_EVAL_SET, from its summary), decoded a batch at a time, letting other requests run."""
    field = "validation_file"
    count = labelled(field, record)
    if count > MAX_EVAL_SET:
        invalid(field, f"holds {count} rows; at most {MAX_EVAL_SET} are")
    content = project_store().files.content(record["id"])
    if content is None:
        invalid(field, f"no file with id {record['id']!r}")
    cases = []
    for batch in trusted_batches(content):
        cases += eval_cases([row for row in batch if row["task_type"]])
        time.sleep(0)  # gevent's yield between batches
    return cases


def get_job_or_404(job_id: str) -> dict:
    """Return one of our fine-tuning jobs, or answer 404."""
    job = project_store().jobs.get(job_id)
    if job is None or job["kind"] != FINE_TUNING:
        abort(404, message=f"no fine-tuning job with id {job_id!r}")
    return job


def translate(body: dict) -> tuple[dict, int]:
    """Build our job request from OpenAI's: the model checked, the files' checks and summaries
    read, defaults filled in; also return how many validation rows have no task type (not
    evaluated)."""
    method = (body.get("method") or {}).get("type", SUPERVISED)
    check_model({"model": body["model"], "method": method})
    language_model = registry.trained_format(body["model"]) == spec.FORMAT
    training = checked_file("training_file", body["training_file"])
    if not language_model:
        labelled("training_file", training)
    cases, unlabelled = None, 0
    if body.get("validation_file"):
        validation = checked_file("validation_file", body["validation_file"])
        if not language_model:  # a language model's validation rows are held out as they are
            cases = validation_cases(validation)
            unlabelled = validation["tuneloop"]["unlabelled_rows"]
    try:
        request = JobInSchema().load(our_request(body, cases))
    except ValidationError as exc:  # our own limits, under our field names
        abort(422, message=f"the job request is invalid: {exc.messages}", errors=exc.messages)
    request["training_file"] = body["training_file"]
    if body.get("validation_file"):
        request["validation_file"] = body["validation_file"]
    return request, unlabelled


@blp.route("")
class FineTuningJobs(MethodView):
    """The collection of fine-tuning jobs."""

    @blp.doc(operationId="fine_tuning_jobs_create")
    @requires(blp, JOBS)
    @blp.arguments(FineTuningJobCreateSchema)
    @blp.response(200, FineTuningJobSchema)
    @blp.alt_response(400, response="BAD_REQUEST", description="an unknown model, or dpo for it")
    @idempotent(blp)
    def post(self, body: dict) -> object:
        """Create a fine-tuning job over a training file (and evaluate on the validation file)."""
        request, unlabelled = translate(body)
        epochs = request["hyperparameters"]["n_epochs"]
        created = create_and_queue(request, FINE_TUNING, progress_total(epochs))
        if isinstance(created, Response):  # a quota's 429
            return created
        job = created[0]
        store = project_store()
        for fid in {request["training_file"], request.get("validation_file")} - {None}:
            if not store.files.use(fid, job["id"]):
                store.cancel_job(job["id"])
                invalid("training_file", f"file {fid} was deleted while the job was created")
        if unlabelled:
            store.jobs.add_event(
                job["id"],
                "create:validation_no_task_type",
                "message",
                f"{unlabelled} rows of the validation file have no metadata.task_type and are "
                "not evaluated",
                {"validation_no_task_type": unlabelled},
                level="warning",
            )
        return openai_job(job), 200, {"Location": created[2]["Location"]}

    @blp.doc(operationId="fine_tuning_jobs_list")
    @requires(blp, JOBS)
    @blp.arguments(CursorQuerySchema, location="query")
    @blp.response(200, FineTuningJobPageSchema)
    def get(self, query: dict) -> dict:
        """List fine-tuning jobs, newest first (those created at /v1/jobs too)."""
        try:
            data, more = project_store().jobs.page(kind=FINE_TUNING, **query)
        except KeyError:
            abort(404, message=f"no job with id {query['after']!r} to page after")
        return {"data": [openai_job(job) for job in data], "has_more": more}


@blp.route("/<job:job_id>")
class FineTuningJob(MethodView):
    """One fine-tuning job."""

    @blp.doc(operationId="fine_tuning_jobs_retrieve")
    @requires(blp, JOBS)
    @blp.response(200, FineTuningJobSchema)
    def get(self, job_id: str) -> dict:
        """Return the job as OpenAI's fine_tuning.job; our own fields are under tuneloop."""
        return openai_job(get_job_or_404(job_id))


@blp.route("/<job:job_id>/cancel")
class FineTuningJobCancel(MethodView):
    """Cancelling a job."""

    @blp.doc(operationId="fine_tuning_jobs_cancel")
    @requires(blp, JOBS)
    @blp.response(200, FineTuningJobSchema)
    @blp.alt_response(409, response="CONFLICT", description="the job has already finished")
    def post(self, job_id: str) -> dict:
        """Cancel the job: stages not started never run; fine-tuning stops at its next epoch."""
        get_job_or_404(job_id)
        return openai_job(cancel_job(job_id))


@blp.route("/<job:job_id>/pause")
class FineTuningJobPause(MethodView):
    """Pausing a job."""

    @blp.doc(operationId="fine_tuning_jobs_pause")
    @requires(blp, JOBS)
    @blp.response(200, FineTuningJobSchema)
    @blp.alt_response(409, response="CONFLICT", description="the job has already finished")
    def post(self, job_id: str) -> dict:
        """Pause the job: a queued one at once (paused); a running one stops at its next epoch
        or step boundary with a checkpoint (pausing, then paused)."""
        get_job_or_404(job_id)
        return openai_job(pause_job(job_id))


@blp.route("/<job:job_id>/resume")
class FineTuningJobResume(MethodView):
    """Resuming a job."""

    @blp.doc(operationId="fine_tuning_jobs_resume")
    @requires(blp, JOBS)
    @blp.response(200, FineTuningJobSchema)
    @blp.alt_response(409, response="CONFLICT", description="the job has already finished")
    @blp.alt_response(
        503,
        response="SERVICE_UNAVAILABLE",
        description="the broker refused the job's stages: it stays paused",
    )
    def post(self, job_id: str) -> dict:
        """Resume a paused job from its checkpoint (queued, then running); a pausing one goes on
        running."""
        get_job_or_404(job_id)
        return openai_job(resume_job(job_id))


@blp.route("/<job:job_id>/events")
class FineTuningJobEvents(MethodView):
    """A job's events."""

    @blp.doc(operationId="fine_tuning_jobs_list_events")
    @requires(blp, JOBS)
    @blp.arguments(EventCursorQuerySchema, location="query")
    @blp.response(200, FineTuningEventPageSchema)
    def get(self, query: dict, job_id: str) -> dict:
        """List the job's events, newest first; per-epoch losses are type metrics."""
        get_job_or_404(job_id)
        data, more = project_store().jobs.events(job_id, newest_first=True, **query)
        return {"data": [openai_event(e) for e in data], "has_more": more}


@blp.route("/<job:job_id>/checkpoints")
class FineTuningJobCheckpoints(MethodView):
    """A job's kept checkpoints."""

    @blp.doc(operationId="fine_tuning_jobs_checkpoints_list")
    @requires(blp, JOBS)
    @blp.arguments(CursorQuerySchema, location="query")
    @blp.response(200, CheckpointPageSchema)
    def get(self, query: dict, job_id: str) -> dict:
        """List the kept checkpoints: the best epoch's, which the fine-tuned model holds."""
        kept = checkpoints(get_job_or_404(job_id))
        if query.get("after"):
            ids = [c["id"] for c in kept]
            kept = kept[ids.index(query["after"]) + 1 :] if query["after"] in ids else []
        return {"data": kept[: query["limit"]], "has_more": len(kept) > query["limit"]}
