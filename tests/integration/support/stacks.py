"""Stacks for the tests, all started by the devstack's launcher with the tests' settings.

The session stack (conftest.py) is shared by most modules; a test that kills, pauses or
reconfigures a process starts a private stack with fault_stack(), whose processes run with
short timings (TIMINGS) so that a lost message comes back within seconds instead of minutes.
Every process runs in its own process group and is stopped (then killed) at the end, and
the temporary directory is removed (kept when TUNELOOP_FAULTS_KEEP is set, to debug).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import redis
from celery import Celery
from kombu.exceptions import KombuError
from tuneloop_devstack.stack import Stack

from .api import ApiClient
from .polling import wait_until

API_KEY = f"itest-{secrets.token_hex(12)}"
# Short timings for every process of a fault stack (the defaults are minutes, not seconds).
VISIBILITY_TIMEOUT = 8.0  # an unacknowledged message of a dead worker comes back after this
HEARTBEAT_INTERVAL = 1.0  # a live worker refreshes its messages this often
RESTORE_INTERVAL = 1.0  # a live worker sweeps for messages of dead workers this often
LEASE_TTL = 4.0  # a dead runner's stage lease expires after this
SOFT_SHUTDOWN_TIMEOUT = 3.0  # SIGTERM gives running stages this long, then hands them back
TIMINGS = {
    "TUNELOOP_VISIBILITY_TIMEOUT": f"{VISIBILITY_TIMEOUT:g}",
    "TUNELOOP_HEARTBEAT_INTERVAL": f"{HEARTBEAT_INTERVAL:g}",
    "TUNELOOP_RESTORE_INTERVAL": f"{RESTORE_INTERVAL:g}",
    "TUNELOOP_LEASE_TTL": f"{LEASE_TTL:g}",
    "TUNELOOP_SOFT_SHUTDOWN_TIMEOUT": f"{SOFT_SHUTDOWN_TIMEOUT:g}",
}
EPOCH_SLEEP = 0.3  # "epoch=sleep:0.3": fine_tune slow enough to be hit mid-way
SLOW_EPOCHS = f"epoch=sleep:{EPOCH_SLEEP:g}"
# Settings of the caller's shell that would change what the processes do.
FOREIGN = (
    "TUNELOOP_",
    "CELERY_",
    "REDIS_",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "WEB_CONCURRENCY",
    "GUNICORN_CMD_ARGS",
)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The children's base environment: ours minus any Tuneloop settings, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    return {
        **env,
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        "TUNELOOP_MODE": "test",
        # Webhook receivers in the tests listen on 127.0.0.1 (test_webhooks.py turns it off
        # to see such a target refused).
        "TUNELOOP_WEBHOOK_ALLOW_PRIVATE": "1",
        **(extra or {}),
    }


@contextlib.contextmanager
def private_stack(prefix: str, env: Mapping[str, str] | None = None) -> Iterator[Stack]:
    """A launcher Stack with the tests' settings, stopped and removed at the end."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    stack = Stack(
        api_key=API_KEY,
        workdir=root,
        base_env=child_env(env),
        gunicorn_args=("--timeout", "60", "--no-control-socket", "--worker-tmp-dir", str(root)),
        grace=3.0,  # what is left at the end is killed: nothing is measured then
        die_with_parent=True,
        cwd=root,
    )
    try:
        yield stack
    finally:
        stack.stop()
        if os.environ.get("TUNELOOP_FAULTS_KEEP"):  # keep the logs to debug a failure
            print(f"\nstack logs kept in {root}", flush=True)
        else:
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def full_stack(prefix: str, env: Mapping[str, str] | None = None) -> Iterator[Stack]:
    """A private stack running redis (no persistence), one worker (both queues), the gateway."""
    with private_stack(prefix, env) as stack:
        stack.start_redis(appendfsync=None)
        stack.start_worker("worker", wait=False)
        stack.start_gateway()
        yield stack


@contextlib.contextmanager
def fault_stack(
    appendfsync: str | None = None,
    workers: Iterable[tuple[str, str]] = (("w1", ""),),
    gateway_env: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    """A private started stack: redis, the gateway and the named workers with failpoints."""
    with private_stack("tuneloop-faults-", TIMINGS) as stack:
        stack.start_redis(appendfsync)
        stack.start_gateway(env=gateway_env, wait=False)
        names = [stack.start_worker(name, fp, wait=False).name for name, fp in workers]
        stack.wait_gateway()
        for name in names:
            stack.wait_worker(name)
        yield stack


@contextlib.contextmanager
def extra_gateway(stack: Stack, name: str, env: Mapping[str, str]) -> Iterator[str]:
    """Run one more gunicorn gateway with extra settings on the stack; yield its base URL."""
    gateway = f"gateway-{name}"
    stack.start_gateway(gateway, env=env)
    try:
        yield stack.url(gateway)
    finally:
        stack.remove(gateway)


def client_for(stack: Stack, api_key: str | None = API_KEY) -> ApiClient:
    """A client of the stack's gateway, with the tests' key (None: without any)."""
    return ApiClient(stack.base_url, api_key)


def wait_worker_answers(stack: Stack, name: str, timeout: float = 60.0) -> None:
    """Wait until the worker answers a control ping (after a Redis restart, for instance)."""
    celery = Celery("test-probe", broker=stack.redis_url, set_as_current=False)

    def answers() -> bool:
        if not stack.proc(name).alive():
            raise AssertionError(f"worker {name} exited\n{stack.logs()}")
        # A connection of our own: kombu's global pool may hold one from before a restart.
        try:
            with celery.connection_for_write() as connection:
                replies = celery.control.ping(timeout=0.5, connection=connection)
        except (redis.RedisError, OSError, KombuError):
            return False
        return any(node.startswith(f"{name}@") for reply in replies for node in reply)

    try:
        wait_until(answers, timeout, lambda: f"worker {name} to answer a ping\n{stack.logs()}")
    finally:
        celery.close()


def report_recovery(fault: str, seconds: float, detail: str = "") -> None:
    """Print the measured time to recovery of a fault (visible with pytest -s)."""
    print(f"\nRECOVERY {fault}: {seconds:.2f} s" + (f" ({detail})" if detail else ""), flush=True)
