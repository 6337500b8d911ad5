"""The file part of POST /v1/files streams to the store's chunks as it is parsed.

werkzeug writes each file part of a multipart body to the stream its request's
_get_file_stream returns: by default a temporary file (a blocking write to disk, in the
middle of the event loop). For the upload route it is a ChunkWriter instead, which stores the
bytes in Redis a chunk at a time; the view then stores the file's record over them. Chunks of
a part that no record names (a refused or broken request) are deleted when the request
closes, and expire anyway. An upload that cannot fit in its project's byte budget, whatever
its body holds besides the file, is refused before a byte of it is stored (the exact check is
the step that stores the file's record: FileStore.add).
"""

from typing import IO

from flask import Request

from tuneloop.store.budget import BudgetExceeded
from tuneloop.store.files import ChunkWriter
from tuneloop_gateway.extensions import project_store, services

UPLOAD = ("POST", "openai_files.Files")  # the one route whose file parts go to Redis
MULTIPART_SLACK = 64 * 1024  # bytes of a body that may be other parts and boundaries


class UploadRequest(Request):
    """Flask's request, whose upload's file parts are written to Redis as they arrive."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        if (self.method, self.endpoint) != UPLOAD:
            return super()._get_file_stream(
                total_content_length, content_type, filename, content_length
            )
        refuse_past_budget(total_content_length)
        writer = services().store.files.writer()
        self.__dict__.setdefault("upload_writers", []).append(writer)
        return writer  # type: ignore[return-value]  # write and seek: all werkzeug calls

    def close(self) -> None:
        """Close the request's files, and discard the chunks of parts no file record names."""
        try:
            super().close()
        finally:
            for writer in self.__dict__.get("upload_writers", ()):
                writer.discard()


def refuse_past_budget(body_bytes: int | None) -> None:
    """BudgetExceeded when a file of at least body_bytes - MULTIPART_SLACK cannot fit."""
    limit = services().settings.max_project_bytes
    if not limit or not body_bytes:
        return
    least = body_bytes - MULTIPART_SLACK
    stored = project_store().usage()["bytes"]
    if least > 0 and stored + least > limit:
        raise BudgetExceeded(stored, least, limit)


def written(stream: object) -> ChunkWriter:
    """Return the writer an upload's file part was streamed to."""
    if not isinstance(stream, ChunkWriter):  # only UploadRequest makes the upload's streams
        raise TypeError(f"the upload's file part went to {type(stream).__name__}, not Redis")
    return stream
