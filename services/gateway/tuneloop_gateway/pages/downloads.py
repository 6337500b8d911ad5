"""Downloads from the pages: a job's training file and report, a model's bytes."""

import json

from flask import Response, stream_with_context

from tuneloop.agent import registry
from tuneloop.llm import spec
from tuneloop.schemas.jobs import JobSchema
from tuneloop_gateway.api.downloads import (
    MARKDOWN,
    NPZ,
    attachment,
    model_file,
    report_markdown,
    training_file_lines,
)
from tuneloop_gateway.auth import JOBS
from tuneloop_gateway.jobs_service import get_job_or_404
from tuneloop_gateway.pages.site import bp, requires

JSONL, JSON = "application/jsonl", "application/json"


@bp.app_template_global()
def model_file_kept(fmt: str | None = None, base_model: str | None = None) -> bool:
    """Whether a model (of format fmt, or trained from base_model) downloads as one file.

    A LoRA adapter lives in the artifact store, not as bytes: GET /v1/models/{id}/content
    answers 409 for it, so the pages offer no link.
    """
    if fmt is None and base_model is not None:
        fmt = registry.BASE_MODELS.get(base_model)
    return fmt != spec.FORMAT


@bp.get("/jobs/<job:job_id>/download/training.jsonl")
@requires(JOBS)
def download_training(job_id: str) -> Response:
    """The job's training split, as GET /v1/jobs/{id}/training_file streams it."""
    lines = stream_with_context(training_file_lines(job_id))
    return attachment(lines, JSONL, f"{job_id}-training.jsonl")


@bp.get("/jobs/<job:job_id>/download/report.json")
@requires(JOBS)
def download_report_json(job_id: str) -> Response:
    """The job document, as GET /v1/jobs/{id} answers it (its report is its result)."""
    body = json.dumps(JobSchema().dump(get_job_or_404(job_id)), indent=2, sort_keys=True)
    return attachment(body + "\n", JSON, f"{job_id}-report.json")


@bp.get("/jobs/<job:job_id>/download/report.md")
@requires(JOBS)
def download_report_markdown(job_id: str) -> Response:
    """The job's report as Markdown, as GET /v1/jobs/{id}/report.md renders it."""
    return attachment(report_markdown(job_id), MARKDOWN, f"{job_id}-report.md")


@bp.get("/models/<model:model_id>/download")
@requires(JOBS)
def download_model(model_id: str) -> Response:
    """The model's saved bytes, as GET /v1/models/{id}/content streams them."""
    filename, size, chunks = model_file(model_id)
    return attachment(stream_with_context(chunks), NPZ, filename, size)
