"""Log lines as JSON objects (containers) or plain text (terminals), with the work's context.

LOG_FORMAT picks the format: json, text, or auto (text when the log stream is a terminal,
else json). The context (job_id, stage, task_id, request_id) lives in a context variable,
set around a request or a task with context() or bind(); ContextFilter copies it onto every
record, so a line logged anywhere below carries it without being told. Both services call
configure_logging() once at start; nothing here is read at import time.
"""

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TextIO

FORMATS = ("json", "text", "auto")
# The context keys a line carries when they are known (a key with no value is left out).
CONTEXT_KEYS = ("job_id", "stage", "task_id", "request_id")
# The Celery message header that carries the request id from the gateway to the workers.
REQUEST_ID_HEADER = "tuneloop_request_id"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"

_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "tuneloop_log_context", default=_EMPTY
)


def resolve_format(value: str, stream: TextIO | None = None) -> str:
    """Return "json" or "text" for a LOG_FORMAT value; RuntimeError when it is none of FORMATS."""
    fmt = (value or "auto").strip().lower()
    if fmt not in FORMATS:
        raise RuntimeError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {value!r}")
    if fmt != "auto":
        return fmt
    try:
        terminal = stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        terminal = False
    return "text" if terminal else "json"


def current() -> dict[str, str]:
    """Return the context lines logged here carry."""
    return dict(_context.get())


def bind(**fields: str | None) -> contextvars.Token:
    """Add fields to the context (None: leave out); return the token that undoes it."""
    known = {k: str(v) for k, v in fields.items() if v not in (None, "")}
    return _context.set(MappingProxyType({**_context.get(), **known}))


def reset(token: contextvars.Token) -> None:
    """Undo one bind()."""
    _context.reset(token)


@contextlib.contextmanager
def context(**fields: str | None) -> Iterator[None]:
    """Add fields to the context of every line logged inside the block."""
    token = bind(**fields)
    try:
        yield
    finally:
        reset(token)


def add_request_id(headers: dict | None = None, **_: object) -> None:
    """Put the context's request id into a task message's headers (when there is one).

    Celery's before_task_publish signal calls it with the headers of each message sent.
    """
    request_id = _context.get().get("request_id")
    if request_id and headers is not None and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = request_id


class ContextFilter(logging.Filter):
    """Copy the context onto each record (a field the record has already wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the context's fields; never drop a record."""
        for key, value in _context.get().items():
            if getattr(record, key, None) in (None, ""):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, process, the context, exc."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        when = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, object] = {
            "ts": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.processName,
            "pid": record.process,
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value not in (None, ""):
                line[key] = value
        line.update(getattr(record, "fields", None) or {})  # extra={"fields": {...}}
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """The plain line, with the context the message does not name already in brackets."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """Return the plain line; the context follows the message (before any traceback)."""
        text = record.getMessage()
        known = [(k, getattr(record, k, None)) for k in CONTEXT_KEYS]
        suffix = " ".join(
            f"{k}={v}" for k, v in known if v not in (None, "") and str(v) not in text
        )
        if not suffix:
            return super().format(record)
        message, original = record.msg, record.args
        record.msg, record.args = f"{text} [{suffix}]", None
        try:
            return super().format(record)
        finally:
            record.msg, record.args = message, original


def formatter(fmt: str) -> logging.Formatter:
    """Return the formatter of a resolved format ("json" or "text")."""
    return JsonFormatter() if fmt == "json" else TextFormatter()


def style(handler: logging.Handler, fmt: str) -> None:
    """Give handler the format's formatter and the context filter (once)."""
    handler.setFormatter(formatter(fmt))
    if not any(isinstance(f, ContextFilter) for f in handler.filters):
        handler.addFilter(ContextFilter())


def configure_logging(level: str | int, fmt: str, stream: TextIO | None = None) -> str:
    """Send the root logger's records to stream (stderr) in fmt at level; return the format.

    Called again, it replaces the handler it installed before and leaves others alone.
    """
    stream = stream if stream is not None else sys.__stderr__
    resolved = resolve_format(fmt, stream)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_tuneloop", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream)
    handler._tuneloop = True  # type: ignore[attr-defined]
    style(handler, resolved)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.captureWarnings(True)  # warnings become records too, not bare stderr lines
    return resolved
