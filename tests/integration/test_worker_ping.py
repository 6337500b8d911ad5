"""The worker containers' health check pings their own worker through the broker."""

import socket
import subprocess
import sys

import pytest

from .support import Stack, child_env

pytestmark = pytest.mark.integration


def ping(stack: Stack, node: str) -> subprocess.CompletedProcess:
    """Run the health check as compose does, against the session stack's Redis."""
    return subprocess.run(
        [sys.executable, "-m", "tuneloop_worker.ping", "--node", node, "--timeout", "2"],
        env=child_env({"REDIS_URL": stack.redis_url}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_running_worker_is_healthy(stack: Stack) -> None:
    node = f"worker@{socket.gethostname()}"  # the session worker is started as worker@%h
    done = ping(stack, node)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{node}: answered" in done.stdout


def test_a_worker_that_does_not_answer_is_unhealthy(stack: Stack) -> None:
    done = ping(stack, f"gone@{socket.gethostname()}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no answer" in done.stdout
