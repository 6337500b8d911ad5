"""Chat-format JSONL training files (OpenAI's fine-tuning format): validated line by line.

A line is ``{"messages": [...], "rating"?: 0..1, "metadata"?: {"task_type"?: ...}}``. Its
training row is the last user message before the final assistant message (the input) and
that assistant message (the output), with the turns before the answer (``messages``: a
language model trains on the whole conversation; the stand-in agent uses only the input).
``rating`` defaults to 1.0; a line without ``metadata.task_type`` is not trained on by the
stand-in agent (the filter drops it as ``no_task_type``: it learns routing from task types),
and a file with no such line is refused when a job of that agent is created over it.

A file may instead hold OpenAI preference lines (``input.messages``, ``preferred_output``,
``non_preferred_output``): a row's output is the preferred answer and ``rejected`` the other,
with no rating and no task type. A file holds one kind of line, not both.
"""

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from tuneloop.llm.rows import check_preference_line
from tuneloop.schemas.common import (
    MAX_TASK_TYPE,
    MAX_TEXT,
    no_control_characters,
    not_blank,
    small_json_object,
    valid_unicode,
)
from tuneloop.schemas.labels import task_type_problem
from tuneloop.strict_json import DuplicateKeyError, strict_loads

ROLES = ("system", "developer", "user", "assistant", "tool")
DEFAULT_RATING = 1.0
MAX_LINE_ERRORS = 20  # the refusal names this many bad lines, and counts the rest
# The fields that make a line an OpenAI preference line (DPO), not a chat line.
PREFERENCE_FIELDS = frozenset({"input", "preferred_output", "non_preferred_output"})


class TextPartSchema(Schema):
    """One part of a message's content given as a list: only text parts carry training text."""

    class Meta:
        unknown = INCLUDE  # other part fields (annotations…) are kept out of the row anyway

    type = fields.String(required=True, validate=validate.Equal("text"))
    text = fields.String(required=True)


class ContentField(fields.Field):
    """A message's content: a string, or a list of text parts (joined), or null."""

    def _deserialize(self, value: object, attr: object, data: object, **kwargs: object) -> object:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list):
            parts = TextPartSchema(many=True).load(value)
            return "".join(p["text"] for p in parts)
        raise ValidationError("must be a string, a list of text parts, or null")


class MessageSchema(Schema):
    """One chat message (of a chat completion request)."""

    class Meta:
        unknown = INCLUDE  # name, tool_calls, weight…: allowed, not used

    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    content = ContentField(required=True, allow_none=True)


# A training file is checked by hand, not by a schema: a marshmallow load of one line costs
# about 150 us, and a file may hold a few hundred thousand lines (see the README).
LINE_FIELDS = frozenset({"messages", "rating", "metadata", "tools", "parallel_tool_calls"})
MAX_MESSAGES = 1000
TEXT_CHECKS = (valid_unicode, not_blank, no_control_characters)


class LineError(ValueError):
    """What is wrong with one line: a field path and a message."""


def _check_content(where: str, content: object) -> None:
    """A message's content is a string, null, or a list of text parts."""
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise LineError(f"{where}.content: must be a string, a list of text parts, or null")
    for i, part in enumerate(content):
        if not (isinstance(part, dict) and part.get("type") == "text"):
            raise LineError(f"{where}.content[{i}]: only text parts are accepted")
        if not isinstance(part.get("text"), str):
            raise LineError(f"{where}.content[{i}].text: must be a string")


def _check_messages(messages: object) -> None:
    """Roles and contents, ending with the assistant's answer to a user message."""
    if not isinstance(messages, list) or not 2 <= len(messages) <= MAX_MESSAGES:
        raise LineError(f"messages: must be a list of 2 to {MAX_MESSAGES} messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise LineError(f"messages[{i}].role: must be one of {', '.join(ROLES)}")
        if "content" not in message:
            raise LineError(f"messages[{i}].content: is missing")
        _check_content(f"messages[{i}]", message["content"])
    if messages[-1]["role"] != "assistant":
        raise LineError("messages: the last message must be the assistant's")
    if not any(m["role"] == "user" for m in messages[:-1]):
        raise LineError("messages: needs a user message before the last one")


def _check_metadata(meta: object) -> None:
    """A small JSON object; its task_type, when given, a valid task type."""
    if not isinstance(meta, dict) or not all(isinstance(k, str) and 0 < len(k) <= 64 for k in meta):
        raise LineError("metadata: must be an object with keys of 1-64 characters")
    _validated("metadata", small_json_object, meta)
    if "task_type" in meta:
        kind = meta["task_type"]
        if not isinstance(kind, str):
            raise LineError(f"metadata.task_type: must be a string of 1-{MAX_TASK_TYPE} characters")
        if (problem := task_type_problem(kind)) is not None:
            raise LineError(f"metadata.task_type: {problem}")


def _validated(name: str, check: Callable[[Any], object], value: object) -> None:
    """Run one of the schemas' validators; LineError naming the field when it refuses."""
    try:
        check(value)
    except ValidationError as exc:
        raise LineError(f"{name}: {'; '.join(map(str, exc.messages))}") from None


def _check_text(name: str, value: object) -> None:
    """The row's input or output: non-blank text of at most MAX_TEXT characters."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
        raise LineError(f"{name}: must be text of 1-{MAX_TEXT} characters")
    for check in TEXT_CHECKS:
        _validated(name, check, value)


def check_line(line: dict) -> None:
    """Raise LineError naming the first problem of one decoded line."""
    unknown = sorted(set(line) - LINE_FIELDS)
    if unknown:
        raise LineError(f"{', '.join(unknown)}: unknown field")
    _check_messages(line.get("messages"))
    rating = line.get("rating", DEFAULT_RATING)
    if isinstance(rating, bool) or not isinstance(rating, int | float) or not 0 <= rating <= 1:
        raise LineError("rating: must be a number from 0 to 1")
    if "metadata" in line:
        _check_metadata(line["metadata"])


def _text(content: object) -> str | None:
    """A message's content as text: a string, or its text parts joined."""
    if isinstance(content, list):
        return "".join(p["text"] for p in content if p.get("type") == "text")
    return content  # type: ignore[return-value]


def _turns(messages: list[dict]) -> list[dict]:
    """The messages as {role, content} with text content (other fields left out)."""
    return [{"role": m["role"], "content": _text(m["content"]) or ""} for m in messages]


def _last_user(messages: list[dict]) -> str | None:
    """The text of the last user message."""
    return _text(next(m for m in reversed(messages) if m["role"] == "user")["content"])


def is_preference(line: dict) -> bool:
    """Whether a decoded line is an OpenAI preference line (not a chat line)."""
    return not PREFERENCE_FIELDS.isdisjoint(line)


def _preference_row(line: dict) -> dict:
    """A preference line's row: the preferred answer as output, the other as rejected."""
    messages = line["input"]["messages"]
    return {
        "input": _last_user(messages),
        "output": line["preferred_output"][0]["content"],
        "rejected": line["non_preferred_output"][0]["content"],
        "messages": _turns(messages),
        "rating": None,
        "task_type": None,
        "metadata": line.get("metadata") or {},
    }


def row_of(line: dict) -> dict:
    """Return a line's training row: input, output, rating, task_type (or None), metadata,
    messages (the turns before the answer), and rejected for a preference line.

    Cheap and structural: for lines validated when their file was stored.
    """
    if is_preference(line):
        return _preference_row(line)
    messages = line["messages"]
    meta = line.get("metadata") or {}
    return {
        "input": _last_user(messages[:-1]),
        "output": _text(messages[-1]["content"]),
        "rating": line.get("rating", DEFAULT_RATING),
        "task_type": meta.get("task_type"),
        "metadata": meta,
        "messages": _turns(messages[:-1]),
    }


def check_preference(line: dict) -> None:
    """Raise LineError naming the first problem of a preference line."""
    unknown = sorted(set(line) - PREFERENCE_FIELDS - {"metadata"})
    if unknown:
        raise LineError(f"{', '.join(unknown)}: unknown field")
    problem = check_preference_line(line)
    if problem is not None:
        raise LineError(problem)
    if "metadata" in line:
        _check_metadata(line["metadata"])


def line_row(line: dict) -> dict:
    """Check one decoded line and return its training row; LineError when it is bad."""
    check_preference(line) if is_preference(line) else check_line(line)
    row = row_of(line)
    _check_text("input (the last user message)", row["input"])
    _check_text("output (the assistant's answer)", row["output"])
    if "rejected" in row:
        _check_text("non_preferred_output", row["rejected"])
    return row


def parse(content: bytes) -> tuple[list[dict], list[tuple[int, str]], int]:
    """Validate a file; return its rows, its bad lines (first MAX_LINE_ERRORS) and their count."""
    rows, bad, n_bad = [], [], 0
    for number, found in checked_lines(content.split(b"\n")):
        if isinstance(found, dict):
            rows.append(found)
            continue
        n_bad += 1
        if len(bad) < MAX_LINE_ERRORS:
            bad.append((number, found))
    return rows, bad, n_bad


def decoded(raw: bytes) -> object:
    """Decode one line as request bodies are decoded; LineError saying why it cannot be."""
    try:
        return strict_loads(raw)
    except UnicodeDecodeError:
        raise LineError("is not valid UTF-8") from None
    except DuplicateKeyError as exc:
        raise LineError(f"JSON object has the key {exc.args[0]!r} twice") from None
    except RecursionError:
        raise LineError("JSON line is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise LineError(f"is not JSON: {exc.msg}") from None
    except ValueError:  # the one other refusal: an integer of more digits than Python reads
        digits = sys.get_int_max_str_digits()
        raise LineError(f"is not JSON we read: an integer has over {digits} digits") from None


def _mixed(chat: int, preference: int) -> str:
    """Why a file of both kinds of line is refused."""
    return (
        f"is a {'preference' if preference > chat else 'chat'} line, but line "
        f"{min(chat, preference)} is a {'chat' if preference > chat else 'preference'} line: "
        "a file holds chat lines or preference lines, not both"
    )


def checked_lines(lines: Iterable[bytes]) -> Iterator[tuple[int, dict | str]]:
    """Yield (line number, training row) for each good line, (line number, problem) for each
    bad one: a file's lines, split at "\n" only (str.splitlines would also split at U+2028
    inside a JSON string). The line that first mixes chat and preference lines gives both.
    """
    first: dict[bool, int] = {}  # preference line or not -> the first good line of the kind
    empty = True
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        empty = False
        try:
            line = decoded(raw)
        except LineError as exc:
            yield number, str(exc)
            continue
        if not isinstance(line, dict):
            yield number, "is not a JSON object"
            continue
        try:
            yield number, line_row(line)
        except LineError as exc:
            yield number, str(exc)[:500]
            continue
        first.setdefault(is_preference(line), number)
        if len(first) == 2 and number == max(first.values()):
            yield number, _mixed(first[False], first[True])
    if empty:
        yield 1, "the file holds no lines"


def trusted_rows(content: bytes) -> list[dict]:
    """Return the rows of a file that was validated when it was stored."""
    return [row for batch in trusted_batches(content) for row in batch]


def trusted_batches(content: bytes, size: int = 500) -> Iterator[list[dict]]:
    """Yield the rows of a file that was validated when it was stored, size at a time."""
    batch: list[dict] = []
    for raw in content.split(b"\n"):
        if raw.strip():
            batch.append(row_of(json.loads(raw)))
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch
