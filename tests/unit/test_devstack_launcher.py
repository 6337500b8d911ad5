"""The launcher's parts that need no Redis: command lines, environments, waiting, stopping."""

import sys
import time
from pathlib import Path

import pytest
from tuneloop_devstack.procs import Proc, StartError, stop_all, wait_for
from tuneloop_devstack.redis_server import redis_argv
from tuneloop_devstack.stack import Stack


def test_redis_keeps_no_snapshots_and_an_append_only_file_only_when_asked(tmp_path: Path) -> None:
    plain = redis_argv(6390, tmp_path, None)
    durable = redis_argv(6390, tmp_path, "always")
    for argv in (plain, durable):
        assert argv[argv.index("--save") + 1] == ""
        assert argv[argv.index("--bind") + 1] == "127.0.0.1"
        assert argv[argv.index("--maxmemory-policy") + 1] == "noeviction"
    assert plain[plain.index("--appendonly") + 1] == "no" and "--appendfsync" not in plain
    assert durable[durable.index("--appendonly") + 1] == "yes"
    assert durable[durable.index("--appendfsync") + 1] == "always"


def test_a_child_gets_the_base_environment_the_redis_url_the_key_then_its_own(
    tmp_path: Path,
) -> None:
    stack = Stack(api_key="k", redis_url="redis://127.0.0.1:1/0", workdir=tmp_path)
    stack.base_env = {"PATH": "/bin", "TUNELOOP_API_KEY": "from-base"}
    env = stack.env(TUNELOOP_FAILPOINTS="epoch=sleep:1", REDIS_URL="redis://elsewhere/1")
    assert env == {
        "LOG_FORMAT": "text",  # log files are read by people, unless the base says otherwise
        "PATH": "/bin",
        "TUNELOOP_API_KEY": "k",
        "REDIS_URL": "redis://elsewhere/1",
        "TUNELOOP_FAILPOINTS": "epoch=sleep:1",
    }


def test_waiting_on_a_process_that_died_fails_at_once_with_its_log(tmp_path: Path) -> None:
    proc = Proc("dies", [sys.executable, "-c", "print('no config'); exit(3)"], tmp_path / "d.log")
    proc.wait(10)
    started = time.monotonic()
    with pytest.raises(StartError, match=r"dies exited with 3:\nno config"):
        wait_for(lambda: False, 30, "it to be ready", [proc])
    assert time.monotonic() - started < 5


def test_stopping_kills_what_ignores_sigterm_after_the_grace(tmp_path: Path) -> None:
    # Each child notes when SIGTERM came (the clock is the machine's) and goes on sleeping.
    stubborn = (
        "import signal, sys, time\n"
        "def note(*_): print('SIGTERM at', time.monotonic(), flush=True)\n"
        "signal.signal(signal.SIGTERM, note)\n"
        "print('ignoring SIGTERM', flush=True)\n"
        "time.sleep(60)\n"
    )
    procs = [Proc(f"p{i}", [sys.executable, "-c", stubborn], tmp_path / f"{i}.log") for i in (1, 2)]
    # Both have set their handler (they say so after), however long they took to start.
    wait_for(
        lambda: all("ignoring SIGTERM" in p.text() for p in procs), 60, "the handlers", procs, 0.01
    )
    grace = 3.0
    started = time.monotonic()
    stop_all(procs, grace=grace)
    assert [p.returncode for p in procs] == [-9, -9]
    took = time.monotonic() - started
    # One grace for all, not one each: both got SIGTERM at once, and SIGKILL once the grace
    # was over (two graces, one each, would take 2 * grace: a margin of one grace for load).
    termed = [float(p.text().split("SIGTERM at ")[1].split()[0]) for p in procs]
    assert max(termed) - min(termed) < grace, termed
    assert grace <= took < 2 * grace, took
