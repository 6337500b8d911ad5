"""Id path parameters: one URL converter per kind of id, checked before any view reads the store.

A route names its id's kind in the rule (``/v1/files/<file:file_id>``); the formats live in
tuneloop.store.ids, where ids are minted. A parameter that is not an id of its kind reaches
no view: once the request's key and limits are checked, it is answered 404 naming the id
(in OpenAI's shape on the OpenAI routes, as a page under /ui), so "file-…:content" can never
name another record's Redis key. Routing itself still matches, so the pages keep their own
login and error pages and the metrics their route label.
"""

import re
from functools import cache

from flask import Flask, request
from flask_smorest import Api, abort
from werkzeug.routing import BaseConverter

from tuneloop.store import ids
from tuneloop_gateway import checks


class Malformed(str):
    """A path parameter that is not an id of its kind: refused before the view runs."""

    kind: ids.IdKind

    def __new__(cls, value: str, kind: ids.IdKind) -> "Malformed":
        """Keep the value as sent, with the kind it should have been."""
        made = super().__new__(cls, value)
        made.kind = kind
        return made


class IdConverter(BaseConverter):
    """Any one path segment; to_python marks those that are not an id of KIND."""

    KIND: ids.IdKind

    def to_python(self, value: str) -> str:
        """The id, or the value marked Malformed (a ValidationError would lose the id)."""
        return value if checks.is_id(self.KIND, value) else Malformed(value, self.KIND)


@cache
def converter(kind: ids.IdKind) -> type[IdConverter]:
    """The converter class of one kind of id."""
    return type(f"{kind.name.title()}IdConverter", (IdConverter,), {"KIND": kind})


def parameter_schema(conv: IdConverter) -> dict:
    """The OpenAPI schema of an id path parameter: a string of its kind's format."""
    return {"type": "string", "pattern": conv.KIND.anchored}


def register_converters(app: Flask, api: Api) -> None:
    """Add a converter per kind of id (named after it: <job:job_id>), before any route."""
    for kind in ids.KINDS:
        app.url_map.converters[kind.name] = converter(kind)
        api.register_converter(converter(kind), parameter_schema)


def refuse_malformed() -> None:
    """Answer 404 naming the id when a path parameter is not an id of its kind."""
    for value in (request.view_args or {}).values():
        if isinstance(value, Malformed):
            abort(404, message=f"no {value.kind.name} with id {str(value)!r}")


RULE_KINDS = re.compile(rf"<(?:{'|'.join(kind.name for kind in ids.KINDS)}):(\w+)>")


@cache
def plain_rule(rule: str) -> str:
    """A rule without its id converters (/v1/jobs/<job_id>): the route's stable name."""
    return RULE_KINDS.sub(r"<\1>", rule)
