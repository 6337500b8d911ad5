"""The file part of POST /v1/files streams to the store's chunks as it is parsed.

werkzeug writes each file part of a multipart body to the stream its request's
_get_file_stream returns: by default a temporary file (a blocking write to disk, in the
middle of the event loop). For the upload route it is a ChunkWriter instead, which stores the
bytes in Redis a chunk at a time; the view then stores the file's record over them. Chunks of
a part that no record names (a refused or broken request) are deleted when the request
closes, and expire anyway.
"""

from typing import IO

from flask import Request

from tuneloop.store.files import ChunkWriter
from tuneloop_gateway.extensions import services

UPLOAD = ("POST", "openai_files.Files")  # the one route whose file parts go to Redis


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


def written(stream: object) -> ChunkWriter:
    """Return the writer an upload's file part was streamed to."""
    if not isinstance(stream, ChunkWriter):  # only UploadRequest makes the upload's streams
        raise TypeError(f"the upload's file part went to {type(stream).__name__}, not Redis")
    return stream
