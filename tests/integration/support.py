"""Subprocesses, an HTTP client and bounded polling, shared by the integration tests."""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import requests

from tuneloop import contracts
from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE
from tuneloop.store import Store

T = TypeVar("T")

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
PROBLEM_JSON = "application/problem+json"
STAGES = contracts.STAGES
JOB_TIMEOUT = 120.0
API_KEY = f"itest-{secrets.token_hex(12)}"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGTERM the child if the test run itself dies without cleaning up."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PDEATHSIG


class Service:
    """One subprocess in its own process group, logging to a file, stopped for sure."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name, self.argv, self.log_path = name, argv, log_path
        self.env, self.cwd = dict(env) if env is not None else None, cwd
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> Service:
        """Start the process as the leader of a new process group."""
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        return self

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the process's log, for failure messages."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as fh:
                tail = "".join(deque(fh, maxlen=lines))
        except OSError as exc:
            tail = f"(no log: {exc})"
        if self.proc is None:
            state = "stopped"
        else:
            state = "running" if self.running else f"exited with {self.proc.poll()}"
        return f"--- {self.name} ({state}), last {lines} log lines ---\n{tail}"

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process, kill it after timeout, then kill what is left of its group."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # a session leader's group id is its pid
        try:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    _kill_group(pgid)
                    self.proc.wait(5)
            _kill_group(pgid)  # pool children the leader left behind, if any
        finally:
            self.proc = None
            if self._log is not None:
                self._log.close()
                self._log = None


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def wait_until(
    check: Callable[[], T],
    timeout: float,
    describe: Callable[[], str],
    interval: float = 0.1,
) -> T:
    """Poll check until it returns something truthy; fail with describe() after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s: {describe()}")
        time.sleep(interval)


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


class Stack:
    """The running system: redis-server, the worker group and the gunicorn gateway."""

    def __init__(
        self,
        redis_url: str,
        base_url: str,
        api_key: str,
        services: dict[str, Service],
    ) -> None:
        self.redis_url, self.base_url, self.api_key = redis_url, base_url, api_key
        self.services = services
        self.store = Store.from_url(redis_url)

    def logs(self, lines: int = 30) -> str:
        """Return the tails of the worker's and the gateway's logs."""
        return "\n".join(self.services[name].log_tail(lines) for name in ("worker", "gateway"))

    def client(self, api_key: str | None = None) -> ApiClient:
        """Return a new client; with the stack's key unless another is given."""
        return ApiClient(self.base_url, api_key)


def job_state(job: Mapping | None) -> str:
    """Summarize a job for a failure message."""
    if not job:
        return "no job read yet"
    keys = ("id", "status", "stage", "progress", "error", "model_id")
    return repr({k: job.get(k) for k in keys})


def wait_for_job(
    client: ApiClient,
    stack: Stack,
    job_id: str,
    expect: str = contracts.SUCCEEDED,
    timeout: float = JOB_TIMEOUT,
) -> dict:
    """Poll the job until it ends; fail unless it ended as expected, with its last state."""
    last: dict = {}

    def ended() -> dict | None:
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, (
            f"GET job {job_id}: {response.status_code} {response.text}"
        )
        last.update(response.json())
        return last if last["status"] in contracts.TERMINAL else None

    wait_until(
        ended,
        timeout,
        lambda: f"job {job_id} to end; last state {job_state(last)}\n{stack.logs()}",
        interval=0.2,
    )
    assert last["status"] == expect, (
        f"job {job_id} ended {last['status']!r}, expected {expect!r}: {job_state(last)}\n"
        f"{stack.logs()}"
    )
    wait_for_closing_records(client, stack, job_id)
    return client.get(f"/v1/jobs/{job_id}").json()


def wait_for_closing_records(client: ApiClient, stack: Stack, job_id: str) -> None:
    """Wait for what the worker writes just after a job's status turns terminal.

    The worker marks a job succeeded (or failed) before it records the last stage's
    progress step and event (see test_job_completion.py), so a reader that polls the
    status alone can see a finished job without its final event.
    """
    last: dict = {}

    def closed() -> bool:
        last["job"] = job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] == contracts.SUCCEEDED:
            closing = ("stage.finished", "compare")
        elif job["status"] == contracts.FAILED:
            closing = ("job.failed", job["error"]["stage"])
        else:
            return True
        last["events"] = [(e["type"], e["data"].get("stage")) for e in all_events(client, job_id)]
        return closing in last["events"]

    wait_until(
        closed,
        10.0,
        lambda: (
            f"the closing event of job {job_id}; last state {job_state(last.get('job'))}, "
            f"events {last.get('events')}\n{stack.logs()}"
        ),
        interval=0.1,
    )


def all_events(client: ApiClient, job_id: str, limit: int = 1000) -> list[dict]:
    """Return every event of a job, following the cursor."""
    events: list[dict] = []
    after = None
    for _ in range(1000):
        params = {"limit": limit, **({"after": after} if after else {})}
        response = client.get(f"/v1/jobs/{job_id}/events", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        events += page["data"]
        if not page["has_more"]:
            return events
        after = page["data"][-1]["id"]
    raise AssertionError(f"events of {job_id} did not end after 1000 pages")


def worker_idle(stack: Stack) -> bool:
    """Whether no task waits in a queue, none is being run, and no job is unfinished."""
    redis = stack.store.redis
    if redis.llen(PIPELINE_QUEUE) or redis.llen(INTERACTIVE_QUEUE) or redis.hlen("unacked"):
        return False
    for jid in redis.zrange("tuneloop:jobs", 0, -1):
        job = stack.store.jobs.get(jid)
        if job is not None and job["status"] not in contracts.TERMINAL:
            return False
    return True


def wait_worker_idle(stack: Stack, timeout: float = 60.0) -> None:
    """Wait until the worker has nothing to do, or fail with its log."""
    redis = stack.store.redis

    def describe() -> str:
        return (
            f"worker to go idle; queued pipeline={redis.llen(PIPELINE_QUEUE)} "
            f"interactive={redis.llen(INTERACTIVE_QUEUE)} unacked={redis.hlen('unacked')}\n"
            f"{stack.logs()}"
        )

    wait_until(lambda: worker_idle(stack), timeout, describe, interval=0.2)


def reset_store(stack: Stack) -> None:
    """Delete Tuneloop's records (not Celery's queues or bindings) once the worker is idle."""
    wait_worker_idle(stack)
    redis = stack.store.redis
    keys = list(redis.scan_iter(match="tuneloop:*", count=1000))
    for start in range(0, len(keys), 500):
        redis.delete(*keys[start : start + 500])


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


def assert_problem(response: requests.Response, status: int, fields: Iterable[str] = ()) -> dict:
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
