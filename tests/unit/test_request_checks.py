"""The shared request checks read headers as werkzeug and webargs read them for Flask's path."""

import pytest
from webargs.core import is_json as webargs_is_json
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from tuneloop_gateway import checks

CONTENT_TYPES = [
    "application/json",
    "Application/JSON",
    " application/json ; charset=utf-8",
    "application/problem+json",
    "application/vnd.rating+json; v=1",
    "application/jsonl",
    "text/json",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "",
]


def request_with(headers: dict[str, str]) -> Request:
    environ = EnvironBuilder(method="POST", path="/", headers=headers).get_environ()
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        wsgi_name = "HTTP_" + name
        if wsgi_name in environ:  # EnvironBuilder files them under HTTP_ too
            environ[name] = environ.pop(wsgi_name)
    return Request(environ)


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_is_json_agrees_with_werkzeug_and_webargs(content_type: str) -> None:
    request = request_with({"Content-Type": content_type})
    assert checks.is_json(request.content_type) is request.is_json
    assert checks.is_json(content_type) is webargs_is_json(request.mimetype)


@pytest.mark.parametrize(
    ("content_length", "transfer_encoding"),
    [
        ("12", None),
        (" 12 ", None),
        ("0", None),
        ("-3", None),
        ("1e3", None),
        ("12", "chunked"),
        ("12", "gzip"),
        (None, None),
        (None, "gzip, chunked"),
    ],
)
def test_declared_length_is_werkzeugs_content_length(
    content_length: str | None, transfer_encoding: str | None
) -> None:
    sent = {"CONTENT_LENGTH": content_length, "HTTP_TRANSFER_ENCODING": transfer_encoding}
    request = Request({name: value for name, value in sent.items() if value is not None})
    found = checks.declared_length(content_length, transfer_encoding)
    assert found == request.content_length


@pytest.mark.parametrize(
    ("if_none_match", "matches"),
    [
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ("*", True),
        ('"x"', False),
        ("", False),
        (None, False),
        ("abc", True),
    ],
)
def test_not_modified_compares_entity_tags_weakly(if_none_match: str | None, matches: bool) -> None:
    assert checks.not_modified(if_none_match, "abc") is matches
