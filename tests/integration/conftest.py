"""Session fixtures: a private redis-server, one worker process group, a gunicorn gateway.

Every process is started here and stopped here (terminate, then kill after a timeout),
and the temporary directory holding their data and logs is removed, even on failure.
"""

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import requests

from .support import API_KEY, REDIS_SERVER, ApiClient, Service, Stack, free_port, wait_until


def child_env(redis_url: str) -> dict[str, str]:
    """The environment of the worker and the gateway: ours, minus any Tuneloop settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TUNELOOP_", "CELERY_", "REDIS_", "LOG_LEVEL"))
    }
    env.update(
        REDIS_URL=redis_url, TUNELOOP_API_KEY=API_KEY, LOG_LEVEL="INFO", PYTHONUNBUFFERED="1"
    )
    return env


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    """A temporary directory for redis data and the services' logs, removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="tuneloop-it-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _start_redis(workdir: Path, attempt: int) -> tuple[str, Service]:
    port = free_port()
    data = workdir / f"redis-{attempt}"
    data.mkdir()
    argv = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--save", "", "--appendonly", "no", "--dir", str(data)]
    service = Service("redis-server", argv, workdir / f"redis-{attempt}.log").start()
    url = f"redis://127.0.0.1:{port}/0"
    probe = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)

    def answers() -> bool:
        if not service.running:
            raise RuntimeError(f"redis-server exited\n{service.log_tail()}")
        try:
            return bool(probe.ping())
        except redis.RedisError:
            return False

    try:
        wait_until(
            answers, 10.0, lambda: f"redis-server :{port} to answer PING\n{service.log_tail()}"
        )
    except BaseException:
        service.stop()
        raise
    finally:
        probe.close()
    return url, service


@pytest.fixture(scope="session")
def redis_server(workdir: Path) -> Iterator[tuple[str, Service]]:
    """Our own redis-server on a free port, without persistence; never the one on 6379."""
    if not (os.path.isfile(REDIS_SERVER) and os.access(REDIS_SERVER, os.X_OK)):
        pytest.fail(f"redis-server not found (looked for {REDIS_SERVER}); install redis-server")
    error: Exception | None = None
    for attempt in range(3):  # the free port may be taken between probing and binding
        try:
            url, service = _start_redis(workdir, attempt)
            break
        except RuntimeError as exc:
            error = exc
    else:
        raise AssertionError(f"redis-server would not start: {error}")
    try:
        yield url, service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def worker(redis_server: tuple[str, Service], workdir: Path) -> Iterator[Service]:
    """One Celery worker process group for the whole session (readiness: see stack)."""
    url, _ = redis_server
    argv = [sys.executable, "-m", "tuneloop_worker", "--concurrency=2", "--loglevel=INFO"]
    service = Service("worker", argv, workdir / "worker.log", env=child_env(url), cwd=workdir)
    service.start()
    try:
        yield service
    finally:
        service.stop(timeout=20.0)


@pytest.fixture(scope="session")
def stack(redis_server: tuple[str, Service], worker: Service, workdir: Path) -> Iterator[Stack]:
    """The gunicorn gateway on a free port, once /healthz and /readyz answer 200."""
    url, redis_service = redis_server
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:tuneloop_gateway.gunicorn_conf"]
    argv += ["-b", f"127.0.0.1:{port}"]
    argv += ["--workers", "2", "--timeout", "60", "--no-control-socket"]
    argv += ["--worker-tmp-dir", str(workdir), "tuneloop_gateway.app:create_app()"]
    gateway = Service("gateway", argv, workdir / "gateway.log", env=child_env(url), cwd=workdir)
    gateway.start()
    try:
        services = {"redis": redis_service, "worker": worker, "gateway": gateway}
        running = Stack(url, f"http://127.0.0.1:{port}", API_KEY, services)
        last: dict[str, str] = {}

        def answers(path: str) -> Callable[[], bool]:
            def check() -> bool:
                if not (gateway.running and worker.running):
                    raise AssertionError(f"a service exited during start-up\n{running.logs()}")
                try:
                    response = anon.get(path)
                except requests.ConnectionError as exc:
                    last[path] = f"connection error: {exc}"
                    return False
                last[path] = f"{response.status_code} {response.text[:300]}"
                return response.status_code == 200

            return check

        with ApiClient(running.base_url, timeout=5.0) as anon:
            for path, timeout in (("/healthz", 30.0), ("/readyz", 60.0)):
                wait_until(
                    answers(path),
                    timeout,
                    lambda path=path: (
                        f"{path} to answer 200, last: {last.get(path)}\n" + running.logs()
                    ),
                    interval=0.2,
                )
        yield running
    finally:
        gateway.stop()


@pytest.fixture(scope="session")
def client(stack: Stack) -> Iterator[ApiClient]:
    """A requests session sending the bearer key."""
    with stack.client(API_KEY) as session:
        yield session


@pytest.fixture(scope="session")
def anon(stack: Stack) -> Iterator[ApiClient]:
    """A requests session without any credentials."""
    with stack.client() as session:
        yield session


@pytest.fixture
def counts(client: ApiClient, stack: Stack) -> Callable[[], dict[str, int]]:
    """Read how many interactions (GET /v1/interactions/stats) and jobs are stored."""

    def read() -> dict[str, int]:
        response = client.get("/v1/interactions/stats")
        assert response.status_code == 200, response.text
        return {"interactions": response.json()["count"], "jobs": stack.store.jobs.count()}

    return read
