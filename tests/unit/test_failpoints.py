"""Failpoints: off unless configured, refused outside test and development modes."""

import os
import subprocess
import sys

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from tuneloop import failpoints


@pytest.fixture(autouse=True)
def cleared():
    yield
    failpoints.configure("")


def test_nothing_happens_when_no_failpoint_is_set() -> None:
    failpoints.configure("")
    failpoints.hit("fine_tune")  # no error


def test_a_failpoint_is_refused_in_production() -> None:
    with pytest.raises(ValueError, match="TUNELOOP_MODE is 'production'"):
        failpoints.configure("collect=crash")
    failpoints.hit("collect")  # nothing was configured: no exit


def test_transient_acts_while_the_count_is_within_its_bound() -> None:
    failpoints.configure("collect=transient:2", mode="test")
    for count in (1, 2):
        with pytest.raises(RedisConnectionError):
            failpoints.hit("collect", count)
    failpoints.hit("collect", 3)


def test_the_worker_refuses_to_start_with_failpoints_in_production() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNELOOP_")}
    env.update(TUNELOOP_FAILPOINTS="fine_tune=crash", REDIS_URL="redis://127.0.0.1:1/0")
    done = subprocess.run(
        [sys.executable, "-m", "tuneloop_worker", "--concurrency=1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "TUNELOOP_FAILPOINTS is set" in done.stderr, done.stderr[-2000:]


def test_a_gate_holds_until_its_file_exists(tmp_path, monkeypatch) -> None:
    gate = tmp_path / "open"
    failpoints.configure(f"prepare=gate:{gate}", mode="test")
    monkeypatch.setattr(failpoints, "GATE_TIMEOUT", 0.2)
    with pytest.raises(RuntimeError, match=f"gate {gate} not opened"):
        failpoints.hit("prepare")
    gate.touch()
    failpoints.hit("prepare")  # open: passes at once
