"""Field types and validators used across the schemas."""

import json
import re
import unicodedata

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from tuneloop.schemas import labels

MAX_TEXT = 4000
MAX_TASK_TYPE = labels.MAX_TASK_TYPE
MAX_METADATA_BYTES = 4096
MAX_METADATA_DEPTH = 4


class FullMatch(validate.Regexp):
    """A pattern the whole value must match; written with ^...$ so OpenAPI reads it too."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def not_blank(value: str) -> None:
    """Reject strings of only whitespace or invisible format characters."""
    if all(c.isspace() or unicodedata.category(c) == "Cf" for c in value):
        raise ValidationError("must not be blank")


def valid_unicode(value: str) -> None:
    """Reject strings that cannot be encoded as UTF-8 (lone surrogates such as \\ud800)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("must be valid Unicode (it holds a lone surrogate)") from None


# Unicode's control characters (category Cc: U+0000-U+001F, U+007F-U+009F) but tab, newline
# and carriage return; one regex search instead of a category lookup per character.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def no_control_characters(value: str) -> None:
    """Reject control characters other than tab, newline and carriage return."""
    if _CONTROL.search(value):
        bad = set(_CONTROL.findall(value))
        raise ValidationError(f"must not contain control characters ({len(bad)} found)")


def text(max_length: int = MAX_TEXT, **kwargs: object) -> fields.String:
    """A required-by-default, non-blank string of bounded length."""
    checks = [validate.Length(1, max_length), valid_unicode, not_blank, no_control_characters]
    return fields.String(validate=checks, **kwargs)


def task_type(metadata: dict | None = None, **kwargs: object) -> fields.String:
    """A task type label: any name the data uses (labels.task_type_problem says which)."""
    schema = {
        "minLength": 1,
        "maxLength": MAX_TASK_TYPE,
        "description": labels.RULE,
        **(metadata or {}),
    }
    return fields.String(validate=task_type_label, metadata=schema, **kwargs)


def task_type_label(value: str) -> None:
    """Refuse a value that is not a task type label, naming the value."""
    problem = labels.task_type_problem(value)
    if problem is not None:
        raise ValidationError(problem)


def stream_id(value: str) -> None:
    """Accept a Redis stream id: two unsigned 64-bit integers joined by '-'."""
    first, _, second = value.partition("-")
    if not (first.isascii() and first.isdigit() and second.isascii() and second.isdigit()):
        raise ValidationError("must be an event id such as 1795834537705-0")
    if int(first) >= 2**64 or int(second) >= 2**64:
        raise ValidationError("is out of range for an event id")


def _too_deep(value: object, levels_left: int) -> bool:
    """Return whether value nests deeper than levels_left; stops descending past the limit."""
    children = value.values() if isinstance(value, dict) else value
    if not isinstance(value, dict | list):
        return False
    if levels_left == 0:
        return True
    return any(_too_deep(v, levels_left - 1) for v in children)


def small_json_object(value: dict) -> None:
    """Bound metadata in nesting depth and in encoded size."""
    if _too_deep(value, MAX_METADATA_DEPTH):
        raise ValidationError(f"must not nest deeper than {MAX_METADATA_DEPTH} levels")
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("must be valid Unicode (it holds a lone surrogate)") from None
    except ValueError:
        raise ValidationError("must not contain NaN or Infinity") from None
    if len(encoded) > MAX_METADATA_BYTES:
        raise ValidationError(f"must encode to at most {MAX_METADATA_BYTES} bytes of JSON")


def metadata(**kwargs: object) -> fields.Dict:
    """Free-form JSON object supplied by the client, bounded in size and depth."""
    return fields.Dict(
        keys=fields.String(validate=validate.Length(1, 64)), validate=small_json_object, **kwargs
    )


def event_cursor() -> fields.String:
    """The after cursor of an event stream: the id of the last event of the page before."""
    return fields.String(validate=[FullMatch(r"^[0-9]{1,20}-[0-9]{1,20}$"), stream_id])


def limit_field(default: int = 20, maximum: int = 100) -> fields.Integer:
    """The page size of a list endpoint."""
    return fields.Integer(load_default=default, validate=validate.Range(1, maximum))


def id_prefix_field() -> fields.String:
    """A list's filter to the ids starting with a prefix (how the CLI resolves a short id)."""
    return fields.String(
        validate=validate.Length(1, 64),
        metadata={
            "description": "only the ids starting with this (of the key's project), newest "
            "first: how a short id is resolved, as git and docker do"
        },
    )


class IdPrefixQuery(Schema):
    """A list's id_prefix filter (mixed into its query schema): one page, so no cursor."""

    id_prefix = id_prefix_field()

    @validates_schema
    def check_prefix(self, data: dict, **kwargs: object) -> None:
        """A prefix's matches are one page: no cursor."""
        if "id_prefix" in data and "after" in data:
            raise ValidationError("cannot be used with after", "id_prefix")


class StrictFloat(fields.Float):
    """A JSON number: rejects strings and booleans that plain Float would coerce."""

    def _deserialize(
        self, value: object, attr: str | None, data: object, **kwargs: object
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """A JSON true or false: rejects "true", 1 and the other values plain Boolean coerces."""

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class ProblemSchema(Schema):
    """An RFC 9457 problem document, as every error is rendered."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(metadata={"description": "messages by field, for validation errors"})
