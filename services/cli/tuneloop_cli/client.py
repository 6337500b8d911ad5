"""The gateway's HTTP API as the CLI calls it: bearer key, timeouts, retries of safe requests."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

DEFAULT_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({409, 429, 502, 503, 504})
MAX_RETRY_WAIT = 30.0
PROJECT_HEADER = "OpenAI-Project"  # the gateway's project header (as OpenAI's SDK sends it)


@dataclass(frozen=True)
class Config:
    """Where the gateway is and the key to send, from the environment or the command line."""

    url: str = DEFAULT_URL
    api_key: str | None = None
    timeout: float = 300.0
    project: str | None = None  # for a key over every project: the one to work in

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Config:
        """Read TUNELOOP_URL, TUNELOOP_API_KEY and TUNELOOP_PROJECT."""
        return cls(
            url=env.get("TUNELOOP_URL") or DEFAULT_URL,
            api_key=env.get("TUNELOOP_API_KEY"),
            project=env.get("TUNELOOP_PROJECT") or None,
        )


class ApiError(Exception):
    """An answer other than 2xx, with the problem document's parts when there is one."""

    def __init__(self, method: str, path: str, response: requests.Response) -> None:
        self.status = response.status_code
        body = _json_or_none(response)
        body = body if isinstance(body, dict) else {}
        self.title = str(body.get("title") or response.reason or "")
        self.detail = str(body.get("detail") or body.get("message") or response.text[:500])
        self.errors: dict = body.get("errors") or {}
        self.headers = response.headers
        super().__init__(f"{method} {path}: {self.status} {self.title}: {self.detail}")


class BearerAuth(requests.auth.AuthBase):
    """Send the API key as a bearer token (and keep ~/.netrc from replacing it)."""

    def __init__(self, key: str | None) -> None:
        self.key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.key:
            request.headers["Authorization"] = f"Bearer {self.key}"
        return request


def part(value: str) -> str:
    """Quote one path segment (a job or model id given on the command line)."""
    return quote(value, safe="")


def _json_or_none(response: requests.Response) -> Any:
    """Decode a JSON body, or None."""
    try:
        return response.json()
    except ValueError:
        return None


def retry_wait(attempt: int, retry_after: str | None) -> float:
    """Seconds to wait before retry number attempt: Retry-After when given, else backoff."""
    if retry_after is not None:
        try:
            return min(MAX_RETRY_WAIT, max(0.0, float(retry_after)))
        except ValueError:
            pass
    return min(MAX_RETRY_WAIT, 0.5 * 2**attempt)


class Api:
    """A session on the gateway; retries only what is safe to send twice."""

    def __init__(
        self, config: Config, retries: int = 4, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.config = config
        self.base = config.url.rstrip("/")
        self.retries = retries
        self.sleep = sleep
        self.session = requests.Session()
        self.session.auth = BearerAuth(config.api_key)
        self.session.headers["User-Agent"] = "tuneloop-cli/0.1"
        if config.project:
            self.session.headers[PROJECT_HEADER] = config.project

    def send(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send a request; raise ApiError unless 2xx.

        GETs and POSTs carrying an Idempotency-Key are retried on connection errors, on 5xx
        answers, and on 409/429 answers that ask for it with Retry-After (a rate limit, not a
        used-up quota or budget): the gateway answers a repeat of those with the first answer,
        so a retry never stores twice.
        """
        safe = method == "GET" or "Idempotency-Key" in (headers or {})
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method,
                    self.base + path,
                    json=json,
                    params=params,
                    headers=headers,
                    stream=stream,
                    timeout=(10.0, self.config.timeout),
                )
            except (requests.ConnectionError, requests.Timeout):
                if not safe or attempt >= self.retries:
                    raise
                self.sleep(retry_wait(attempt, None))
                attempt += 1
                continue
            if response.ok:
                return response
            retryable = response.status_code in RETRY_STATUSES and (
                response.status_code not in (409, 429) or "Retry-After" in response.headers
            )
            if not (safe and retryable) or attempt >= self.retries:
                raise ApiError(method, path, response)
            self.sleep(retry_wait(attempt, response.headers.get("Retry-After")))
            attempt += 1

    def get(self, path: str, **params: object) -> Any:
        """GET a JSON document."""
        query = {k: v for k, v in params.items() if v is not None}
        return self.send("GET", path, params=query).json()

    def post(self, path: str, body: object, headers: Mapping[str, str] | None = None) -> Any:
        """POST a JSON body and return the JSON answer."""
        return self.send("POST", path, json=body, headers=headers).json()
