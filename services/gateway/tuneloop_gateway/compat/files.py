"""OpenAI's Files API for chat-format training files: upload, list, read, download, delete."""

import logging
from typing import NoReturn

from flask import Response, url_for
from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.fields import Upload
from marshmallow import ValidationError
from werkzeug.datastructures import FileStorage

from tuneloop import contracts
from tuneloop.store.files import FileInUseError
from tuneloop_gateway.auth import INGEST, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.compat.schemas import (
    FileDeletedSchema,
    FileObjectSchema,
    FilePageSchema,
    FileQuerySchema,
    FileUploadSchema,
)
from tuneloop_gateway.extensions import project_store, services
from tuneloop_gateway.uploads import written

log = logging.getLogger(__name__)
blp = Blueprint(
    "openai_files",
    __name__,
    url_prefix="/v1/files",
    description="OpenAI-compatible files: chat-format or preference JSONL training data",
)


class FilePart(Upload):
    """A multipart part sent as a file (with a filename), not as a plain form field."""

    def _deserialize(self, value: object, attr: object, data: object, **kwargs: object) -> object:
        if not isinstance(value, FileStorage):
            raise ValidationError(
                "must be sent as a file part (Content-Disposition with a filename), "
                "not as a plain form field"
            )
        return value


class FileFormSchema(FileUploadSchema):
    """The upload's parts: purpose and the file."""

    file = FilePart(
        required=True, metadata={"description": "chat-format or preference JSONL, UTF-8"}
    )


def not_found(file_id: str) -> NoReturn:
    """Answer 404 naming the file."""
    abort(404, message=f"no file with id {file_id!r}")


def get_file_or_404(file_id: str) -> dict:
    """Return the file's record or answer 404."""
    record = project_store().files.get(file_id)
    if record is None:
        not_found(file_id)
    return record


def send_check(file_id: str) -> None:
    """Have a worker check the file; when the broker refuses, delete it and answer 503."""
    svc = services()
    try:
        svc.celery.send_task(contracts.CHECK_FILE, args=(file_id,), ignore_result=True)
    except Exception:  # the broker refused: store nothing, so a retry starts clean
        log.exception("file %s: its check could not be queued; removing it", file_id)
        svc.store.files.delete(file_id)
        abort(503, message="the file's check could not be queued; retry later")


@blp.route("")
class Files(MethodView):
    """The collection of files."""

    @blp.doc(operationId="files_create")
    @requires(blp, INGEST)
    @blp.arguments(FileFormSchema, location="multipart")
    @blp.response(200, FileObjectSchema)
    @blp.alt_response(
        503,
        response="SERVICE_UNAVAILABLE",
        description="the broker refused the check: nothing kept",
    )
    def post(self, form: dict) -> tuple:
        """Upload a chat or preference JSONL file (purpose fine-tune): stored as it arrives,
        with status uploaded; a worker checks it line by line, then its status is processed
        (with a summary) or error (status_details names its bad lines)."""
        upload = form["file"]
        filename = (upload.filename or "upload.jsonl")[:255]
        record = project_store().files.add(filename, form["purpose"], written(upload.stream))
        send_check(record["id"])
        return record, 200, {"Location": url_for("openai_files.File", file_id=record["id"])}

    @blp.doc(operationId="files_list")
    @requires(blp, INGEST)
    @blp.arguments(FileQuerySchema, location="query")
    @blp.response(200, FilePageSchema)
    def get(self, query: dict) -> dict:
        """List files, newest first."""
        try:
            data, has_more = project_store().files.page(**query)
        except KeyError:
            abort(404, message=f"no file with id {query['after']!r} to page after")
        return {"data": data, "has_more": has_more}


@blp.route("/<file:file_id>")
class File(MethodView):
    """One file."""

    @blp.doc(operationId="files_retrieve")
    @requires(blp, INGEST)
    @blp.response(200, FileObjectSchema)
    def get(self, file_id: str) -> dict:
        """Return the file's record."""
        return get_file_or_404(file_id)

    @blp.doc(operationId="files_delete")
    @requires(blp, INGEST)
    @blp.response(200, FileDeletedSchema)
    @blp.alt_response(409, response="CONFLICT", description="a job not yet ended uses the file")
    def delete(self, file_id: str) -> dict:
        """Delete the file, unless a job that has not ended trains or evaluates on it."""
        try:
            deleted = project_store().files.delete(file_id)
        except FileInUseError as exc:
            abort(409, message=f"file {file_id} is used by job {exc.job_id}, not yet ended")
        if not deleted:
            not_found(file_id)
        return {"id": file_id, "deleted": True}


@blp.route("/<file:file_id>/content")
class FileContent(MethodView):
    """A file's bytes."""

    @blp.doc(operationId="files_content")
    @requires(blp, INGEST)
    @blp.response(200, content_type="application/jsonl")
    @blp.doc(responses={"200": {"content": {"application/jsonl": {"schema": {"type": "string"}}}}})
    @blp.alt_response(409, response="CONFLICT", description="the file's check failed: no bytes")
    def get(self, file_id: str) -> Response:
        """Download the file as it was uploaded (a file whose check failed keeps no bytes)."""
        content = project_store().files.content(file_id)
        if content is None:
            record = get_file_or_404(file_id)
            abort(
                409,
                message=f"file {file_id} has status {record['status']}: its bytes were not kept "
                "(its status_details say why)",
            )
        return Response(content, mimetype="application/jsonl")
