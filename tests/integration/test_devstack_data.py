"""`make run` keeps its data in TUNELOOP_DATA_DIR across restarts; `make demo` leaves nothing.

Each test runs the real launcher (`python -m tuneloop_devstack.run` or `.demo`) as a
subprocess, as the Makefile does, on a data directory and a port of its own.
"""

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from tuneloop_devstack.redis_server import answers, client, redis_argv

from .support import ApiClient, create_job, free_port, training_items, wait_until

pytestmark = pytest.mark.integration

UP_TIMEOUT = 120.0
JOB_TIMEOUT = 120.0
ENDED = ("succeeded", "failed", "cancelled")


def launcher_env(**extra: str) -> dict[str, str]:
    """Our environment without the test suite's Tuneloop and Redis settings, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNELOOP_", "REDIS_"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


class Run:
    """One `make run` subprocess and its output."""

    def __init__(self, data: Path, port: int, log: Path, cwd: Path, **extra: str) -> None:
        self.log, self.base = log, f"http://127.0.0.1:{port}"
        env = launcher_env(TUNELOOP_DATA_DIR=str(data), PORT=str(port), WORKERS="1", **extra)
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "tuneloop_devstack.run"],
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        """Return what it printed so far."""
        return self.log.read_text(errors="replace")

    def ready(self) -> bool:
        """Return whether it printed that it is up and /readyz answers 200."""
        if "Tuneloop is up" not in self.output():
            return False
        try:
            return requests.get(f"{self.base}/readyz", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    def wait_up(self) -> None:
        """Wait until it is up (fail at once, with its output, if it exits)."""
        wait_until(
            lambda: self.popen.poll() is not None or self.ready(),
            UP_TIMEOUT,
            lambda: f"make run to be up\n{self.output()}",
            interval=0.2,
        )
        assert self.popen.poll() is None, self.output()

    def stop(self) -> int:
        """SIGTERM it as Ctrl-C would; return its exit status (SIGKILL its group if it hangs)."""
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
            raise


@contextmanager
def make_run(data: Path, port: int, log: Path, cwd: Path, **extra: str) -> Iterator[Run]:
    """A `make run` that is up (extra: more settings); stopped with SIGTERM at the end."""
    run = Run(data, port, log, cwd, **extra)
    try:
        run.wait_up()
        yield run
    finally:
        if run.popen.poll() is None:
            run.stop()


def job_ended(api: ApiClient, job_id: str) -> dict | None:
    """Return the job once it has ended, else None."""
    job = api.get(f"/v1/jobs/{job_id}").json()
    return job if job["status"] in ENDED else None


def state(api: ApiClient) -> dict:
    """Return what a user sees of the stored data: interactions, jobs, models."""
    return {
        path: api.get(path).json()
        for path in ("/v1/interactions?limit=200", "/v1/jobs?limit=100", "/v1/models")
    }


def test_make_run_restarted_shows_the_same_interactions_jobs_and_models_with_the_same_key(
    tmp_path: Path,
) -> None:
    data, port = tmp_path / "data", free_port()
    with make_run(data, port, tmp_path / "run1.log", tmp_path) as first:
        key_file = data / "api-key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = key_file.read_text().strip()
        assert f"API key (generated, kept in {key_file}): {key}" in first.output()
        with ApiClient(first.base, key) as api:
            posted = api.post("/v1/interactions/batch", json={"items": training_items()})
            assert posted.status_code == 201, posted.text
            job_id = create_job(api, 2)
            job = wait_until(
                lambda: job_ended(api, job_id), JOB_TIMEOUT, lambda: first.output()[-3000:]
            )
            assert job["status"] == "succeeded", job
            before = state(api)
            question = {"input": "Will it rain in Oslo tomorrow?"}
            answer = api.post(f"/v1/models/{job['model_id']}/responses", json=question).json()
        assert first.stop() == 0, first.output()
    assert len(before["/v1/interactions?limit=200"]["data"]) == len(training_items())
    assert [m["id"] for m in before["/v1/models"]["data"]].count(job["model_id"]) == 1

    with make_run(data, port, tmp_path / "run2.log", tmp_path) as second:
        assert key_file.read_text().strip() == key
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert f"API key (from {key_file}): {key}" in second.output()
        with ApiClient(second.base, key) as api:
            assert state(api) == before
            again = api.post(f"/v1/models/{job['model_id']}/responses", json=question).json()
            assert again == answer
    # The first run's logs are kept beside the second's.
    assert (data / "gateway.log.1").exists() and (data / "gateway.log").exists()


def test_a_second_make_run_on_the_same_data_directory_is_refused_saying_why(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with make_run(data, free_port(), tmp_path / "run1.log", tmp_path) as first:
        holder = first.popen.pid
        other = Run(data, free_port(), tmp_path / "run2.log", tmp_path)
        try:
            status = other.popen.wait(60)
        finally:
            if other.popen.poll() is None:
                other.stop()
        assert status != 0, other.output()
        assert f"another `make run` (pid {holder}) uses {data}" in other.output()
        assert first.ready(), first.output()  # the first one is untouched


def test_a_redis_server_an_earlier_run_left_behind_is_stopped_before_redis_starts_again(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    (data / "redis").mkdir(parents=True)
    left = subprocess.Popen(  # as an earlier run started it, that run since killed
        redis_argv(free_port(), data / "redis", "everysec"),
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(
            lambda: (data / "redis" / "redis.pid").exists(), 20.0, lambda: "redis.pid written"
        )
        with make_run(data, free_port(), tmp_path / "run.log", tmp_path) as run:
            assert left.poll() == 0, run.output()  # SIGTERM: it saved and exited cleanly
            assert f"stopped redis-server pid {left.pid}" in run.output()
    finally:
        if left.poll() is None:
            left.kill()
        left.wait(10)


def test_with_redis_url_make_run_starts_no_redis_of_its_own_but_keeps_its_key(
    tmp_path: Path,
) -> None:
    data, theirs = tmp_path / "data", tmp_path / "their-redis"
    theirs.mkdir()
    port = free_port()
    redis = subprocess.Popen(
        redis_argv(port, theirs, None), stdout=subprocess.DEVNULL, start_new_session=True
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: answers(url), 20.0, lambda: "their redis-server to answer")
        with make_run(data, free_port(), tmp_path / "run.log", tmp_path, REDIS_URL=url) as run:
            key_file = data / "api-key"
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
            with ApiClient(run.base, key_file.read_text().strip()) as api:
                posted = api.post("/v1/interactions/batch", json={"items": training_items()})
                assert posted.status_code == 201, posted.text
            assert f"redis: {url}" in run.output()
            assert not (data / "redis").exists()  # no private redis-server, no data of its own
            probe = client(url)
            try:
                assert probe.dbsize() > 0  # the interactions went to their Redis
            finally:
                probe.close()
        assert redis.poll() is None  # their Redis is theirs: still running after the stop
    finally:
        redis.terminate()
        redis.wait(20)


def test_make_demo_removes_its_directory_at_the_end(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = launcher_env(TMPDIR=str(tmp), PORT=str(free_port()))
    demo = subprocess.run(
        [sys.executable, "-m", "tuneloop_devstack.demo"],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert sorted(p.name for p in tmp.iterdir()) == []
    assert not (tmp_path / ".tuneloop").exists()  # nor does it use make run's data
