"""flask-smorest's Blueprint with a JSON parser that never lets a body cause a 500."""

from typing import Any, ClassVar, NoReturn
from urllib.parse import unquote_to_bytes

import flask
import flask_smorest
from marshmallow import Schema, ValidationError
from marshmallow.error_store import SCHEMA
from webargs.core import missing
from webargs.flaskparser import FlaskParser, abort
from werkzeug.datastructures import MultiDict

from tuneloop.strict_json import DuplicateKeyError
from tuneloop_gateway import checks
from tuneloop_gateway.bounds import too_long


class SafeJsonParser(FlaskParser):
    """Treat every undecodable body as 400: duplicate keys, too-long integers, too-deep nesting.

    It also reads location "multipart": a multipart/form-data body's fields and files as one.
    """

    __location_map__: ClassVar[dict] = {
        **FlaskParser.__location_map__,
        "multipart": "load_multipart",
    }

    def load_multipart(self, req: flask.Request, schema: Schema) -> Any:
        """Return the form fields and the files of a multipart body as one mapping."""
        both = MultiDict(req.form)
        for name, upload in req.files.items(multi=True):
            both.add(name, upload)
        return self._makeproxy(both, schema)

    def load_querystring(self, req: flask.Request, schema: Schema) -> Any:
        """Return the query's parameters; 422 naming any whose value is not UTF-8.

        werkzeug keeps such a value as its escapes ("%FF"), which could pass for text.
        """
        bad = not_utf8_params(req.query_string)
        if bad:
            raise ValidationError({name: ["is not valid UTF-8 (percent-encoded)"] for name in bad})
        return super().load_querystring(req, schema)

    def handle_error(
        self,
        error: ValidationError,
        req: flask.Request,
        schema: Schema,
        *,
        error_status_code: int | None,
        error_headers: Any,
    ) -> NoReturn:
        """Answer 400 naming the query's unknown parameters (a schema loaded with RAISE)."""
        query = error.messages.get("query") if isinstance(error.messages, dict) else None
        known = sorted(field.data_key or name for name, field in schema.load_fields.items())
        unknown = [name for name in (query or {}) if name not in {*known, SCHEMA}]
        if not unknown:
            super().handle_error(
                error, req, schema, error_status_code=error_status_code, error_headers=error_headers
            )
        hint = f"unknown query parameter; known: {', '.join(known)}"
        messages = {"query": {**query, **{name: [hint] for name in unknown}}}
        abort(400, exc=error, messages=messages, schema=schema, headers=error_headers)

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not checks.is_json(req.content_type):
            return missing
        try:
            return checks.decode(req.get_data(cache=True))
        except RecursionError:
            abort(400, messages={"json": ["JSON body is nested too deeply."]})
        except DuplicateKeyError as exc:
            abort(400, messages={"json": [f"JSON object has the key {exc.args[0]!r} twice."]})
        except ValueError as exc:  # bad UTF-8, JSONDecodeError, int-too-long: all ValueErrors
            self._bad_json(exc)

    def _bad_json(self, exc: ValueError) -> NoReturn:
        abort(400, exc=exc, messages={"json": ["Invalid JSON body."]})

    def _process_location_data(
        self,
        location_data: Any,
        schema: Schema,
        req: flask.Request,
        location: str,
        unknown: str | None,
        validators: Any,
    ) -> Any:
        """Take the schema's fast path when it has one and the body is certainly valid."""
        if location == "json" and not validators:
            loaded = checks.accepted(type(schema), location_data)
            if loaded is not None:
                return loaded
        return super()._process_location_data(
            location_data, schema, req, location, unknown, validators
        )

    def pre_load(self, location_data: Any, *, schema: Schema, req: flask.Request, location: str):
        """Refuse a body with a value over its maximum length before validating it in full."""
        if location == "json" and (errors := too_long(schema, location_data)):
            raise ValidationError(errors)
        return location_data


def not_utf8_params(query: bytes) -> list[str]:
    """The names of a raw query string's parameters whose decoded value is not UTF-8."""
    bad = []
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        try:
            unquote_to_bytes(value.replace(b"+", b" ")).decode()
        except UnicodeDecodeError:
            bad.append(unquote_to_bytes(name).decode(errors="replace"))
    return bad


class Blueprint(flask_smorest.Blueprint):
    """A blueprint whose request bodies go through SafeJsonParser."""

    ARGUMENTS_PARSER = SafeJsonParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING: ClassVar[dict] = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }

    def arguments(self, schema: type[Schema] | Schema, *args: Any, **kwargs: Any) -> Any:
        """flask-smorest's arguments; a schema class is instantiated once, not per request."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)
