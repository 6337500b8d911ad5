"""Downloads: a job's report as Markdown, a model's saved bytes."""

from collections.abc import Iterator

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import abort

from tuneloop.agent import registry
from tuneloop.errors import StageError
from tuneloop.llm import spec
from tuneloop.pipeline import data
from tuneloop.report import markdown
from tuneloop.stages.prepare import chat_lines
from tuneloop.store import keys
from tuneloop.store.interactions import SnapshotGoneError
from tuneloop_gateway.api.models import get_model_or_404
from tuneloop_gateway.auth import JOBS, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.extensions import project_store
from tuneloop_gateway.jobs_service import get_job_or_404

blp = Blueprint("downloads", __name__, url_prefix="/v1", description="Reports and model files")
MARKDOWN = "text/markdown"  # Flask adds "; charset=utf-8"
NPZ = "application/octet-stream"  # a NumPy .npz archive: float16 weights and a JSON header
MARKDOWN_DOC = {"type": "string", "description": "the report as GitHub-flavoured Markdown"}
BYTES_DOC = {"type": "string", "format": "binary", "description": "the model's saved bytes"}


def training_file_lines(job_id: str) -> Iterator[str]:
    """The job's training split as chat-format JSON lines; answer 404, or 409 when it was never
    prepared or can no longer be regenerated (GET /v1/jobs/{id}/training_file, the pages)."""
    job, store = get_job_or_404(job_id), project_store()
    if "prepare" not in store.jobs.steps_done(job_id):
        abort(409, message=f"the training data of job {job_id} was never prepared")
    try:
        rows = data.training_rows(store, job)  # reads the filter's mask first
    except SnapshotGoneError:
        abort(409, message=f"interactions job {job_id} trained on were edited or deleted since")
    except KeyError:  # a job from before the mask was kept
        abort(409, message=f"job {job_id} has no record of its kept rows any more")
    except StageError as exc:  # its training file was deleted since
        abort(409, message=f"{exc.message}: its training split cannot be regenerated")
    return chat_lines(rows)


def report_markdown(job_id: str) -> str:
    """The job's report as Markdown (the API's and the pages' download)."""
    return markdown.render(get_job_or_404(job_id))


def model_file(model_id: str) -> tuple[str, int, Iterator[bytes]]:
    """A stored model's file name, size and chunks; answer 404, or 409 when nothing is stored."""
    meta = get_model_or_404(model_id)
    mid = meta["id"]  # an alias downloads the model it names
    if mid in registry.BUILTIN or mid in registry.UNTRAINED:
        abort(409, message=f"model {mid!r} is built in: its rules or weights ship with the code")
    if meta.get("format") == spec.FORMAT:
        abort(409, message=f"model {mid!r} is a LoRA adapter kept in the artifact store")
    found = project_store().blobs.stream(keys.model(mid))
    if found is None:
        abort(409, message=f"model {mid!r} has no stored bytes")
    size, chunks = found
    return f"{mid}.npz", size, chunks


def attachment(body: object, mimetype: str, filename: str, size: int | None = None) -> Response:
    """A response the browser saves as filename."""
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if size is not None:
        response.headers["Content-Length"] = str(size)
    return response


@blp.route("/jobs/<job:job_id>/report.md")
class JobReportMarkdown(MethodView):
    """A job's report as a Markdown document."""

    @requires(blp, JOBS)
    @blp.doc(operationId="jobs_report_markdown")
    @blp.response(200, content_type="text/markdown")
    @blp.doc(responses={"200": {"content": {"text/markdown": {"schema": MARKDOWN_DOC}}}})
    def get(self, job_id: str) -> Response:
        """Render the job's report as Markdown: verdict, metrics with 95% intervals, per task
        type, training data (a job without a result yet says its status)."""
        return Response(report_markdown(job_id), mimetype=MARKDOWN)


@blp.route("/models/<model:model_id>/content")
class ModelContent(MethodView):
    """A fine-tuned model's saved bytes."""

    @requires(blp, JOBS)
    @blp.doc(operationId="models_content")
    @blp.response(200, content_type=NPZ)
    @blp.doc(responses={"200": {"content": {NPZ: {"schema": BYTES_DOC}}}})
    @blp.alt_response(
        409, response="CONFLICT", description="a built-in model, or one not stored here"
    )
    def get(self, model_id: str) -> Response:
        """Download the model (by its id or an alias) as saved: a NumPy .npz archive that
        tuneloop loads back (its weights and a JSON header naming its format)."""
        filename, size, chunks = model_file(model_id)
        return attachment(stream_with_context(chunks), NPZ, filename, size)
