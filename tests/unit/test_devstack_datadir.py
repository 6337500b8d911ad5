"""`make run`'s data directory: where it is, the kept key and its mode, a left-over redis pid."""

import os
import stat
import subprocess
from pathlib import Path

import pytest
from tuneloop_devstack import datadir
from tuneloop_devstack.procs import StartError


def test_the_data_directory_is_dot_tuneloop_where_make_run_starts_unless_set(
    tmp_path: Path,
) -> None:
    assert datadir.data_dir({}, tmp_path) == tmp_path / ".tuneloop"
    assert datadir.data_dir({"TUNELOOP_DATA_DIR": ""}, tmp_path) == tmp_path / ".tuneloop"
    assert datadir.data_dir({"TUNELOOP_DATA_DIR": "d"}, tmp_path) == tmp_path / "d"
    assert datadir.data_dir({"TUNELOOP_DATA_DIR": "/srv/t"}, tmp_path) == Path("/srv/t")


def test_a_generated_key_is_written_0600_even_under_a_permissive_umask_then_reused(
    tmp_path: Path,
) -> None:
    old = os.umask(0)
    try:
        key, new = datadir.api_key(tmp_path)
    finally:
        os.umask(old)
    path = tmp_path / datadir.KEY_FILE
    assert new and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == key + "\n"
    assert datadir.api_key(tmp_path) == (key, False)
    assert [p.name for p in tmp_path.iterdir()] == [datadir.KEY_FILE]  # no temporary file left


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_key_file_others_may_read_is_refused_naming_the_fix(tmp_path: Path, mode: int) -> None:
    path = tmp_path / datadir.KEY_FILE
    path.write_text("secret\n")
    path.chmod(mode)
    with pytest.raises(StartError, match=rf"mode is {mode:04o}.*chmod 600 {path}"):
        datadir.api_key(tmp_path)


def test_an_empty_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / datadir.KEY_FILE
    path.write_text("\n")
    path.chmod(0o600)
    with pytest.raises(StartError, match="is empty"):
        datadir.api_key(tmp_path)


def test_a_redis_pid_that_names_no_redis_server_on_this_directory_is_left_alone(
    tmp_path: Path,
) -> None:
    (tmp_path / "redis").mkdir()
    pidfile = tmp_path / "redis" / "redis.pid"
    other = subprocess.Popen(["sleep", "60"], cwd=tmp_path / "redis")  # not a redis-server
    try:
        for pid in (other.pid, 2**22 + 1):  # a live process that is not redis; no process
            pidfile.write_text(f"{pid}\n")
            assert datadir.stop_stale_redis(tmp_path, timeout=5.0) is None
            assert not pidfile.exists()
        assert other.poll() is None  # never signalled
    finally:
        other.kill()
        other.wait()
    assert datadir.stop_stale_redis(tmp_path) is None  # no pid file at all


def test_a_second_lock_on_the_directory_is_refused_naming_the_holder(tmp_path: Path) -> None:
    held = datadir.lock(tmp_path)
    try:
        with pytest.raises(StartError, match=rf"\(pid {os.getpid()}\) uses {tmp_path}"):
            datadir.lock(tmp_path)
    finally:
        held.close()
    datadir.lock(tmp_path).close()  # free again once the holder let go


def test_each_run_starts_new_logs_and_keeps_the_previous_ones(tmp_path: Path) -> None:
    (tmp_path / "gateway.log").write_text("run 1\n")
    (tmp_path / "gateway.log.1").write_text("run 0\n")
    datadir.rotate_logs(tmp_path)
    assert not (tmp_path / "gateway.log").exists()
    assert (tmp_path / "gateway.log.1").read_text() == "run 1\n"
