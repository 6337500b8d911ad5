"""HTTP clients (gunicorn over requests, or the app in this process) and problem assertions."""

from __future__ import annotations

import contextlib
import json as jsonlib
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import requests
from flask import Flask

from tuneloop.settings import Settings
from tuneloop_gateway.app import create_app

PROBLEM_JSON = "application/problem+json"


class ApiClient(requests.Session):
    """A requests session bound to the gateway's base URL, with a default timeout."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 30.0) -> None:
        super().__init__()
        self.trust_env = False  # no proxy or ~/.netrc credentials from the environment
        self.base_url = base_url.rstrip("/")
        self.default_timeout = timeout
        if api_key is not None:
            self.headers["Authorization"] = f"Bearer {api_key}"

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        """Send a request; a path is resolved against the base URL."""
        kwargs.setdefault("timeout", self.default_timeout)
        if url.startswith("/"):
            url = self.base_url + url
        return super().request(method, url, *args, **kwargs)


class AppResponse:
    """A Flask test response, read through the part of requests' Response the tests use."""

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, headers, content
        self.text = content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """Decode the body as JSON."""
        return jsonlib.loads(self.content)


class AppClient:
    """The gateway app called in this process (Flask's test client), as requests is called."""

    def __init__(self, app: Flask, api_key: str | None = None) -> None:
        self._client = app.test_client()
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def request(
        self,
        method: str,
        url: str,
        *,
        data: str | bytes | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, object] | None = None,
        timeout: float | None = None,  # accepted as requests accepts it; nothing waits on it
    ) -> AppResponse:
        """Send one request through the WSGI app and return its whole answer."""
        kwargs: dict[str, Any] = {"json": json} if json is not None else {"data": data}
        response = self._client.open(
            url,
            method=method,
            headers={**self.headers, **(headers or {})},
            query_string=dict(params) if params else None,
            **kwargs,
        )
        try:
            return AppResponse(response.status_code, response.headers, response.get_data())
        finally:
            response.close()

    def get(self, url: str, **kwargs: Any) -> AppResponse:
        """GET url."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> AppResponse:
        """POST to url."""
        return self.request("POST", url, **kwargs)

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def task_distribution(client: ApiClient) -> Counter:
    """Stored interactions per task type (GET /v1/interactions/stats)."""
    stats = client.get("/v1/interactions/stats")
    assert stats.status_code == 200, stats.text[:300]
    return Counter(stats.json()["task_distribution"])


def is_finite_number(value: object) -> bool:
    """Whether value is a real, finite number."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def error_paths(errors: Mapping, prefix: str = "") -> set[str]:
    """Flatten a problem's errors map into dotted field paths: items[1].rating, limit."""
    paths: set[str] = set()
    for key, value in errors.items():
        key = str(key)
        if key.isdigit():
            path = f"{prefix}[{key}]"
        elif key == "_schema":
            path = prefix or "body"
        else:
            path = f"{prefix}.{key}" if prefix else key
        paths |= error_paths(value, path) if isinstance(value, Mapping) else {path}
    return paths


def assert_problem(
    response: requests.Response | AppResponse, status: int, fields: Iterable[str] = ()
) -> dict:
    """Assert an RFC 9457 problem of status naming fields; return its body."""
    body_text = response.text[:500]
    assert response.status_code == status, (
        f"expected {status}, got {response.status_code}: {body_text}"
    )
    assert response.headers.get("Content-Type", "").startswith(PROBLEM_JSON), (
        f"content type {response.headers.get('Content-Type')!r}: {body_text}"
    )
    body = response.json()
    assert body["status"] == status, body
    assert body.get("title"), body
    assert isinstance(body.get("detail"), str), body
    fields = list(fields)
    if fields:
        named = error_paths(body.get("errors") or {})
        missing = [
            f for f in fields if not any(p == f or p.startswith((f + ".", f + "[")) for p in named)
        ]
        assert not missing, f"errors do not name {missing}: {body}"
    return body


@contextlib.contextmanager
def gateway_app(env: Mapping[str, str]) -> Iterator[Flask]:
    """The gateway app built in this process from env, as gunicorn builds it.

    At the end its result subscriptions are dropped without a word to Redis: Celery's handles
    of the jobs it sent would otherwise unsubscribe when collected, after Redis has stopped.
    """
    app = create_app(settings=Settings.from_env(env))
    try:
        yield app
    finally:
        consumer = getattr(app.extensions["tuneloop"].celery.backend, "result_consumer", None)
        if consumer is not None:
            consumer.subscribed_to.clear()
            consumer.stop()
