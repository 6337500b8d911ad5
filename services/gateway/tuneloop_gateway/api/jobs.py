"""Jobs of every kind: create (fine-tuning), read, list, cancel, pause, resume, delete, events,
cases, training file."""

from flask import Response, current_app, stream_with_context
from flask import request as sent
from flask.views import MethodView
from flask_smorest import abort

from tuneloop.schemas.jobs import (
    EVAL_SET_INCLUDE,
    CaseQuerySchema,
    EventPageSchema,
    EventQuerySchema,
    JobDeletedSchema,
    JobInSchema,
    JobPageSchema,
    JobQuerySchema,
    JobReadQuerySchema,
    JobSchema,
)
from tuneloop.schemas.results import CasePageSchema
from tuneloop_gateway import prefixed
from tuneloop_gateway.api.downloads import training_file_lines
from tuneloop_gateway.auth import JOBS, current_project, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.extensions import project_store, services
from tuneloop_gateway.idempotency import idempotent
from tuneloop_gateway.jobs_service import (
    cancel_job,
    check_cases_kept,
    conditional,
    create_fine_tuning,
    delete_job,
    get_job_or_404,
    job_body,
    no_job,
    pause_job,
    resume_job,
)
from tuneloop_gateway.limits import counted_in_store, deferred

blp = Blueprint("jobs", __name__, url_prefix="/v1/jobs", description="Fine-tuning jobs")
ETAG_DOC = {
    "description": "the answer's entity tag (a read without include)",
    "schema": {"type": "string"},
}


@blp.route("")
class Jobs(MethodView):
    """The collection of jobs."""

    @requires(blp, JOBS)
    @blp.arguments(JobInSchema)
    @blp.response(202, JobSchema)
    @blp.alt_response(400, response="BAD_REQUEST", description="an unknown model, or dpo for it")
    @blp.alt_response(
        503,
        response="SERVICE_UNAVAILABLE",
        description="the broker refused the job: nothing was stored",
    )
    @idempotent(blp)
    def post(self, request: dict) -> tuple:
        """Create a job over the interactions stored now, and queue its stages."""
        return create_fine_tuning(request)

    @requires(blp, JOBS)
    @blp.arguments(JobQuerySchema, location="query")
    @blp.response(200, JobPageSchema)
    def get(self, query: dict) -> dict:
        """List jobs, newest first (with id_prefix: only those whose ids start with it)."""
        try:
            data, has_more = listed_jobs(query)
        except KeyError:
            abort(404, message=f"no job with id {query['after']!r} to page after")
        return {"data": [_listed(job) for job in data], "has_more": has_more}


def listed_jobs(query: dict) -> tuple[list[dict], bool]:
    """One page of the project's jobs; with id_prefix, of those whose ids start with it."""
    store, prefix = project_store(), query.pop("id_prefix", None)
    if prefix is None:
        return store.jobs.page(**query)
    status, kind = query.get("status"), query.get("kind")
    return prefixed.page(
        store.jobs,
        prefix,
        query["limit"],
        store.jobs.get,
        lambda j: status in (None, j["status"]) and kind in (None, j["kind"]),
    )


# Report parts that grow with the eval set or the task types: only GET /v1/jobs/{id} has them.
UNLISTED = ("examples", "classification", "calibration")


def _listed(job: dict) -> dict:
    """Leave out what can be large (the eval set is never read here)."""
    result = job["result"] and {k: v for k, v in job["result"].items() if k not in UNLISTED}
    return {**job, "result": result}


@blp.route("/<job:job_id>")
class Job(MethodView):
    """One job."""

    @counted_in_store
    @requires(blp, JOBS)
    @blp.arguments(JobReadQuerySchema, location="query")
    @blp.response(200, JobSchema, headers={"ETag": ETAG_DOC})
    @blp.alt_response(304, description="unchanged since the answer of the ETag sent: no body")
    def get(self, query: dict, job_id: str) -> dict | Response:
        """Return the job's status, stage, progress, result or error; its eval set on request.

        A read without options has an ETag; sent back in If-None-Match, it gets 304 while the
        job is unchanged.
        """
        if EVAL_SET_INCLUDE in query["include"]:
            return get_job_or_404(job_id, eval_set=True)
        body = job_body(services(), current_app.json, job_id, deferred(), current_project())
        if body is None:
            no_job(job_id)
        status, body, tag = conditional(body, sent.headers.get("If-None-Match"))
        response = Response(body, status, mimetype=current_app.json.mimetype)
        response.set_etag(tag)
        return response

    @requires(blp, JOBS)
    @blp.response(200, JobDeletedSchema)
    @blp.alt_response(
        409, response="CONFLICT", description="the job has not ended, or a stage still stops"
    )
    @idempotent(blp)
    def delete(self, job_id: str) -> dict:
        """Delete an ended job with its events, eval set, cases and artifacts; its model stays."""
        return delete_job(job_id)


@blp.route("/<job:job_id>/cancel")
class JobCancel(MethodView):
    """Cancelling a job."""

    @requires(blp, JOBS)
    @blp.response(200, JobSchema)
    @blp.alt_response(409, response="CONFLICT", description="the job has already finished")
    def post(self, job_id: str) -> dict:
        """Cancel the job: stages not started never run; fine-tuning stops at its next epoch."""
        return cancel_job(job_id)


@blp.route("/<job:job_id>/pause")
class JobPause(MethodView):
    """Pausing a job."""

    @requires(blp, JOBS)
    @blp.response(200, JobSchema)
    @blp.alt_response(409, response="CONFLICT", description="the job has already finished")
    def post(self, job_id: str) -> dict:
        """Pause the job: a queued one at once (paused); a running one stops at its next stage,
        epoch or step boundary with a checkpoint (pausing, then paused). A paused job holds no
        worker; pausing it again changes nothing."""
        return pause_job(job_id)


@blp.route("/<job:job_id>/resume")
class JobResume(MethodView):
    """Resuming a job."""

    @requires(blp, JOBS)
    @blp.response(200, JobSchema)
    @blp.alt_response(409, response="CONFLICT", description="the job has already finished")
    @blp.alt_response(
        503,
        response="SERVICE_UNAVAILABLE",
        description="the broker refused the job's stages: it stays paused",
    )
    def post(self, job_id: str) -> dict:
        """Resume the job: a paused one is queued and its stages sent again (done stages pass,
        fine-tuning continues from its checkpoint); a pausing one goes on running. Resuming a
        queued or running job changes nothing."""
        return resume_job(job_id)


@blp.route("/<job:job_id>/events")
class JobEvents(MethodView):
    """A job's events."""

    @requires(blp, JOBS)
    @blp.arguments(EventQuerySchema, location="query")
    @blp.response(200, EventPageSchema)
    def get(self, query: dict, job_id: str) -> dict:
        """List the job's events, oldest first, after an optional cursor."""
        get_job_or_404(job_id)
        data, has_more = project_store().jobs.events(job_id, **query)
        return {"data": data, "has_more": has_more}


@blp.route("/<job:job_id>/cases")
class JobCases(MethodView):
    """A finished job's evaluation cases: changed between the two agents, or routed wrong."""

    @requires(blp, JOBS)
    @blp.arguments(CaseQuerySchema, location="query")
    @blp.response(200, CasePageSchema)
    @blp.alt_response(409, response="CONFLICT", description="the job has no evaluation yet")
    def get(self, query: dict, job_id: str) -> dict:
        """List every regressed, improved or wrong case, by index: input, expected type, answers."""
        job = get_job_or_404(job_id)
        check_cases_kept(job, query["outcome"])
        data, has_more = project_store().cases.page(job_id, **query)
        return {"data": data, "has_more": has_more}


# What GET .../training_file streams: one JSON object per line (OpenAPI 3.1 has no line schema).
CHAT_LINE = {
    "type": "string",
    "description": 'JSON Lines, one conversation per line: {"messages": [{"role": "user", '
    '"content": ...}, {"role": "assistant", "content": ...}]}',
}


@blp.route("/<job:job_id>/training_file")
class TrainingFile(MethodView):
    """A job's training split."""

    @requires(blp, JOBS)
    @blp.response(200, content_type="application/jsonl")
    @blp.doc(responses={"200": {"content": {"application/jsonl": {"schema": CHAT_LINE}}}})
    @blp.alt_response(409, response="CONFLICT", description="the job's data was never prepared")
    def get(self, job_id: str) -> Response:
        """Download the training split as chat-format JSONL, regenerated from the snapshot."""
        lines = training_file_lines(job_id)
        return Response(stream_with_context(lines), mimetype="application/jsonl")
