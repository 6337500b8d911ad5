"""The job service: create a job and queue its stages, read one, cancel, pause, resume or
delete one.

The views of /v1/jobs, /v1/evaluations, /v1/fine_tuning/jobs and the report pages, and the
hot lane, all call these; none of them imports another's view module.
"""

import hashlib
import logging
from collections.abc import Sequence
from typing import NoReturn

from flask import Response, url_for
from flask.json.provider import JSONProvider
from flask_smorest import abort
from redis.exceptions import RedisError

from tuneloop.agent import registry
from tuneloop.canvas import job_canvas
from tuneloop.contracts import (
    BASELINE_MODEL_ID,
    LLM_DELETE_FILES,
    PAUSED,
    QUEUED,
    TERMINAL,
)
from tuneloop.graph import FINE_TUNING, progress_total
from tuneloop.llm import spec
from tuneloop.schemas.jobs import JobSchema, unknown_model
from tuneloop.schemas.method import DPO
from tuneloop.stages.collect import synthetic_examples
from tuneloop.store.answer_cache import UNCHANGED, JobRead
from tuneloop.store.job_delete import JobActiveError, JobStageRunningError
from tuneloop.store.jobs import Quota, QuotaExceeded
from tuneloop.store.ratelimit import Window
from tuneloop_gateway import checks
from tuneloop_gateway.auth import current_key, current_project
from tuneloop_gateway.errors import problem
from tuneloop_gateway.extensions import Services, project_store, services

log = logging.getLogger(__name__)
JOB_SCHEMA = JobSchema()


def invalid(field: str, message: str) -> NoReturn:
    """Answer 422 naming one invalid field of a job's request."""
    abort(422, message=f"invalid field {field}: {message}", errors={field: [message]})


def check_model(request: dict) -> None:
    """Answer 400 when the job names no registered base model, or dpo for a kind without it."""
    model = request.get("model", BASELINE_MODEL_ID)
    problem = unknown_model(model)
    if problem is not None:
        abort(400, message=problem, errors={"model": [problem]})
    if request.get("method") == DPO and registry.trained_format(model) != spec.FORMAT:
        message = f"dpo trains a base language model; {model!r} trains supervised only"
        abort(400, message=message, errors={"method": [message]})


def no_job(job_id: str) -> NoReturn:
    """Answer 404 naming the job."""
    abort(404, message=f"no job with id {job_id!r}")


def get_job_or_404(job_id: str, eval_set: bool = False) -> dict:
    """Return the job (with its eval set's cases when asked) or answer 404."""
    job = project_store().jobs.get(job_id, eval_set=eval_set)
    if job is None:
        no_job(job_id)
    return job


def check_cases_kept(job: dict, outcome: str) -> None:
    """409 unless the job's compare kept the cases of outcome (wrong: only newer jobs)."""
    counts = (job.get("result") or {}).get("cases")
    if counts is None:
        state = "has no per-case outcomes kept" if job.get("result") else f"is {job['status']}"
        abort(409, message=f"job {job['id']} {state}: its cases are listed once it succeeded")
    if outcome not in counts:
        abort(
            409,
            message=f"job {job['id']} did not keep its {outcome} cases (compared before they "
            "were kept, or they did not fit its project's byte budget: see its events): only "
            f"{' and '.join(sorted(counts))} are listed (evaluate its model again, POST "
            "/v1/evaluations, to list every case it got wrong)",
        )


def check_out_of_scope_task(request: dict) -> None:
    """Answer 422 unless the out-of-scope task is a task type of the data the job collects."""
    task = request.get("out_of_scope_task")
    if task is None:
        return
    known = set(project_store().interactions.stats()["task_distribution"])
    if request["include_synthetic"]:
        known |= {ex["task_type"] for ex in synthetic_examples()}
    if task not in known:
        invalid(
            "out_of_scope_task",
            f"{task!r} is the task type of no stored interaction ({len(known)} task types are)",
        )


def create_fine_tuning(request: dict) -> tuple | Response:
    """Check a loaded JobInSchema request, store the job and queue it (POST /v1/jobs, the
    pages' new-job form): the job and 202, or a 429 problem; 400, 422 or 503 are raised."""
    check_model(request)
    check_out_of_scope_task(request)
    total = progress_total(request["hyperparameters"]["n_epochs"])
    return create_and_queue(request, FINE_TUNING, total)


def create_and_queue(request: dict, kind: str, total: int) -> tuple | Response:
    """Store a job of kind for the calling key in its project (within the project's quotas),
    queue it, answer 202."""
    svc = services()
    quota = Quota(svc.settings.max_stored_jobs, svc.settings.max_active_jobs)
    owner = current_key().name
    try:
        # snapshot None: the interactions' sequence number, read as the job is stored
        job = project_store().jobs.create(request, None, total, owner, quota, kind)
    except QuotaExceeded as exc:
        which = "jobs not yet ended" if exc.kind == "active" else "stored jobs"
        detail = f"the project {current_project()!r} has {exc.limit} {which}, its limit; " + (
            "retry when one has ended" if exc.kind == "active" else "ask an operator"
        )
        headers = {"Retry-After": "30"} if exc.kind == "active" else {}
        return problem(429, "Too Many Requests", detail, headers=headers)
    queue(svc, job["id"], kind, request.get("model"))
    location = url_for("jobs.Job", job_id=job["id"])
    return job, 202, {"Location": location}


def queue(svc: Services, job_id: str, kind: str, model: str | None) -> None:
    """Send the job's canvas; when the broker refuses it, delete the job and answer 503."""
    if not send_canvas(svc, job_id, kind, model):
        project_store().jobs.delete(job_id)  # store nothing, so a retry starts clean
        abort(503, message="the job could not be queued; retry later")


def send_canvas(svc: Services, job_id: str, kind: str, model: str | None) -> bool:
    """Send the job's canvas (from its first stage: done stages pass); False when the broker
    refused it. The stages of a model kind with a worker of its own go to its queue."""
    queues = registry.stage_queues(model) if model else {}
    try:
        job_canvas(svc.celery, job_id, kind, queues).apply_async()
    except Exception:
        log.exception("job %s: could not be queued", job_id)
        return False
    return True


def job_body(
    svc: Services, json: JSONProvider, job_id: str, limit: Sequence[Window], project: str
) -> bytes | None:
    """The job's answer (JobSchema's, as JSON), rendered once per state it is read in; None
    when there is no such job in project. The limit's windows are counted in the same read.

    An ended job's answer is kept in Redis beside it (it no longer changes, see
    JobStore.read); an active job's latest answer is kept in this worker with its state's
    digest, and served again while the store finds the job in that state.
    """
    jobs = svc.store.scoped(project).jobs
    held = svc.polled.get(job_id)
    found = jobs.read(job_id, limit=limit, known=held[0] if held else "")
    if found is UNCHANGED and held is not None:
        return held[1]
    if found is None:  # deleted, or another project's
        return None
    if not isinstance(found, JobRead):
        return found.encode()  # the kept answer
    body = json.response(JOB_SCHEMA.dump(found.job())).get_data()  # as flask-smorest would
    if found.status not in TERMINAL:
        svc.polled.put(job_id, found.digest, body)
        return body
    svc.polled.drop(job_id)
    try:
        jobs.keep_document(job_id, found.stamp, body.decode())
    except RedisError as exc:  # e.g. Redis at maxmemory: the next read renders it again
        log.warning("job %s: its answer was not kept: %s", job_id, exc)
    return body


def etag(body: bytes) -> str:
    """The entity tag of a job's answer: the digest of its bytes (one answer, one tag)."""
    return hashlib.sha1(body, usedforsecurity=False).hexdigest()


def conditional(body: bytes, if_none_match: str | None) -> tuple[int, bytes, str]:
    """A job read's status, body and entity tag: 304 without a body when the client has it."""
    tag = etag(body)
    if checks.not_modified(if_none_match, tag):
        return 304, b"", tag
    return 200, body, tag


def cancel_job(job_id: str) -> dict:
    """Cancel the job and record it; answer 404 or 409 (the API's and the report pages' cancel).

    A paused job has no runner left to free what it kept: that is done here.
    """
    job = get_job_or_404(job_id)
    store = project_store()
    was = store.cancel_job(job_id)
    if not was:
        current = store.jobs.get(job_id) or job
        abort(409, message=f"job {job_id} has already finished: it is {current['status']}")
    store.jobs.add_event(job_id, "job:cancelled", "job.cancelled", "job cancelled")
    if was == PAUSED:
        store.unpin_job(job_id)
        store.release_ended_job(job_id, services().settings.keep_intermediates)
        store.reclaim_versions()
    return store.jobs.get(job_id)


def refuse_ended(job_id: str, status: str | None, which: str) -> NoReturn:
    """Answer 409 naming the status of a job that has ended (nothing to pause or resume)."""
    abort(409, message=f"job {job_id} has already finished: it is {status}; only {which}")


def pause_job(job_id: str) -> dict:
    """Pause the job: a queued one at once (paused), a running one at its next stage, epoch or
    step boundary (pausing, then paused); answer 404, or 409 once it has ended. Pausing a
    pausing or paused job changes nothing."""
    get_job_or_404(job_id)
    store = project_store()
    change = store.jobs.pause(job_id)
    if change.outcome == "missing":
        no_job(job_id)
    if change.outcome == "ended":
        refuse_ended(job_id, change.status, "a queued or running job can be paused")
    if change.outcome == "changed" and change.status == PAUSED:
        store.pin_paused_job(job_id)
    return store.jobs.get(job_id)


def resume_job(job_id: str) -> dict:
    """Resume the job: a paused one is queued and its stages sent again (done stages pass,
    training continues from its checkpoint), a pausing one goes on running; answer 404, 409
    once it has ended, 503 (still paused) when the broker refused its stages. Resuming a
    queued or running job changes nothing."""
    job = get_job_or_404(job_id)
    store = project_store()
    change = store.jobs.resume(job_id)
    if change.outcome == "missing":
        no_job(job_id)
    if change.outcome == "ended":
        refuse_ended(job_id, change.status, "a paused or pausing job can be resumed")
    if change.outcome == "changed" and change.status == QUEUED:
        store.unpin_job(job_id)
        if not send_canvas(services(), job_id, job["kind"], job["request"].get("model")):
            if store.jobs.pause(job_id).status == PAUSED:  # still queued: nothing ran
                store.pin_paused_job(job_id)
            abort(503, message="the job's stages could not be sent; it stays paused: retry")
    return store.jobs.get(job_id)


def delete_job(job_id: str) -> dict:
    """Delete an ended job with everything stored for it; answer 404, or 409 while it runs.

    The model it published stays, as OpenAI keeps a model whose job is deleted. A language
    model job's checkpoints are deleted from the artifact store by the llm worker.
    """
    svc = services()
    job = get_job_or_404(job_id)
    try:
        deleted = project_store().jobs.delete_ended(job_id)
    except JobActiveError as exc:
        abort(
            409,
            message=f"job {job_id} is {exc.status}: cancel it first "
            f"(POST /v1/jobs/{job_id}/cancel), then delete it",
        )
    except JobStageRunningError as exc:
        abort(
            409,
            message=f"job {job_id} has ended, but its {exc.stage} stage is still stopping; "
            "retry in a few seconds",
            headers={"Retry-After": "5"},
        )
    if deleted is None:
        no_job(job_id)
    svc.polled.drop(job_id)
    if registry.BASE_MODELS.get(job["request"].get("model", "")) == spec.FORMAT:
        files = spec.job_files(job_id)
        svc.celery.send_task(LLM_DELETE_FILES, args=(job_id, files), queue=spec.QUEUE)
    return {"id": job_id, "object": deleted or job["object"], "deleted": True}
