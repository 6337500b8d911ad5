"""`make run`'s supervisor restarts a crashed process instead of stopping the stack."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tuneloop.celery_config import PIPELINE_QUEUE

from .support import API_KEY, free_port, report_recovery, wait_until

pytestmark = pytest.mark.integration


def descendants(pid: int) -> list[int]:
    """Return every descendant of pid, from /proc."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += [int(c) for c in children]
        todo += [int(c) for c in children]
    return found


def cmdline(pid: int) -> str:
    """Return a process's command line, or "" when it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def pipeline_worker(run_pid: int) -> int | None:
    """Return the pid of the pipeline worker's main process under the supervisor."""
    for pid in descendants(run_pid):
        line = cmdline(pid)
        if "tuneloop_worker" in line and PIPELINE_QUEUE in line:
            return pid
    return None


def test_a_killed_worker_is_restarted_and_the_gateway_keeps_answering(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNELOOP_", "REDIS_"))}
    env.update(PORT=str(port), WORKERS="1", TUNELOOP_API_KEY=API_KEY, PYTHONUNBUFFERED="1")
    env["TUNELOOP_DATA_DIR"] = str(tmp_path / "data")  # not the checkout's .tuneloop/
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [sys.executable, "-m", "tuneloop_devstack.run"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return requests.get(f"{base}/readyz", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    def output() -> str:
        return (tmp_path / "run.log").read_text(errors="replace")[-3000:]

    started: list[int] = []
    try:
        # Up means supervising: until it prints this, a process that dies fails the start-up.
        wait_until(
            lambda: "Tuneloop is up" in output() and ready(),
            120.0,
            lambda: f"make run to be up\n{output()}",
            interval=0.5,
        )
        worker = pipeline_worker(run.pid)
        assert worker is not None, output()
        started = descendants(run.pid)
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(
            lambda: pipeline_worker(run.pid) not in (None, worker) and ready(),
            60.0,
            lambda: f"the worker to be restarted\n{output()}",
            interval=0.2,
        )
        report_recovery(
            "SIGKILL of make run's pipeline worker -> restarted, /readyz 200",
            time.monotonic() - killed_at,
        )
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        assert run.poll() is None, output()
        assert "worker exited with -9; restarting in 1s" in output()
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
        log.close()
    left = [pid for pid in started if cmdline(pid)]
    assert left == [], [cmdline(pid) for pid in left]
