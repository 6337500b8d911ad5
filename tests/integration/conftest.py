"""Fixtures: the session's stack, clients of its gateway, the gateway app in this process.

The session stack is started by the devstack's launcher (what `make run` uses) with the
tests' settings: a private redis-server without persistence, one worker consuming both
queues and a gunicorn gateway. Everything it started is stopped, and its directory removed,
even on failure. Helpers shared by the tests are in support/.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from .support import (
    API_KEY,
    ApiClient,
    AppClient,
    SentMessages,
    Stack,
    client_for,
    full_stack,
    gateway_app,
    wait_until,
)


def _wait_ready(stack: Stack) -> None:
    """Wait until /readyz answers 200: Redis answers and the worker consumes."""
    last: dict[str, str] = {}

    def ready() -> bool:
        try:
            response = requests.get(f"{stack.base_url}/readyz", timeout=5)
        except requests.ConnectionError as exc:
            last["readyz"] = f"connection error: {exc}"
            return False
        last["readyz"] = f"{response.status_code} {response.text[:300]}"
        return response.status_code == 200

    wait_until(ready, 60.0, lambda: f"/readyz to answer 200, last: {last}\n{stack.logs()}", 0.2)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The session's redis-server, worker (both queues) and gunicorn gateway, once ready."""
    with full_stack("tuneloop-it-") as running:
        _wait_ready(running)
        yield running


@pytest.fixture(scope="session")
def client(stack: Stack) -> Iterator[ApiClient]:
    """A requests session sending the bearer key to the session's gunicorn gateway."""
    with client_for(stack) as session:
        yield session


@pytest.fixture(scope="session")
def anon(stack: Stack) -> Iterator[ApiClient]:
    """A requests session without any credentials."""
    with client_for(stack, None) as session:
        yield session


@pytest.fixture(scope="session")
def app_client(stack: Stack) -> Iterator[AppClient]:
    """The gateway app in this process (Flask's test client) on the session's Redis and worker.

    For requests that need no real server: the same app factory and settings as gunicorn
    runs, without a round trip through sockets for each of hundreds of cases.
    """
    with gateway_app(stack.env()) as app:
        yield AppClient(app, API_KEY)


@pytest.fixture(scope="module")
def sent(stack: Stack) -> Iterator[SentMessages]:
    """The messages pushed onto the Celery queues of the session's Redis, from now on."""
    watcher = SentMessages(stack.redis_url)
    try:
        yield watcher
    finally:
        watcher.close()


@pytest.fixture
def counts(client: ApiClient, stack: Stack) -> Callable[[], dict[str, int]]:
    """Read how many interactions (GET /v1/interactions/stats) and jobs are stored."""

    def read() -> dict[str, int]:
        response = client.get("/v1/interactions/stats")
        assert response.status_code == 200, response.text
        return {"interactions": response.json()["count"], "jobs": stack.store.jobs.count()}

    return read


@pytest.fixture(scope="module")
def collect_gate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file that lets collect go on after it took its lease (failpoint collect=gate:PATH);
    open (existing) by default, one per module."""
    gate = tmp_path_factory.mktemp("gate") / "collect-may-go-on"
    gate.touch()
    return gate
