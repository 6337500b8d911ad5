"""`make run`'s data directory: Redis's append-only file, the generated key, the logs, a lock.

Layout of TUNELOOP_DATA_DIR (default `.tuneloop/` where `make run` starts):

    lock           held (flock) while a `make run` uses the directory; holds its pid
    api-key        the generated admin key, mode 0600, reused on the next start
    redis/         redis-server's --dir: the append-only file and, while it runs, redis.pid
    *.log          each process's log (the previous run's kept as *.log.1)
"""

import contextlib
import fcntl
import os
import secrets
import signal
import stat
import time
from pathlib import Path
from typing import IO

from tuneloop_devstack.procs import StartError
from tuneloop_devstack.redis_server import PIDFILE, SUBDIR

KEY_FILE = "api-key"
LOCK_FILE = "lock"


def data_dir(env: dict[str, str] | os._Environ, cwd: Path) -> Path:
    """Return TUNELOOP_DATA_DIR as an absolute path; `.tuneloop` in cwd when unset."""
    return (cwd / (env.get("TUNELOOP_DATA_DIR") or ".tuneloop")).resolve()


def prepare(root: Path) -> None:
    """Create the directory (mode 0700: it holds the key) unless it exists."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)


def lock(root: Path) -> IO[str]:
    """Take the directory's lock for this process's life; StartError if a run holds it."""
    handle = (root / LOCK_FILE).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise StartError(
            f"another `make run` (pid {holder}) uses {root}: stop it first, or set "
            "TUNELOOP_DATA_DIR to another directory"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def read_key(path: Path) -> str | None:
    """Return the key kept in path (None when there is none); StartError if others may read it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if stat.S_IMODE(mode) & 0o077:
        raise StartError(
            f"{path} holds the admin key but its mode is {stat.S_IMODE(mode):04o}: other users "
            f"may read it. Run `chmod 600 {path}` (and change the key if it leaked)"
        )
    key = path.read_text().strip()
    if not key:
        raise StartError(f"{path} is empty: delete it to have a new key generated")
    return key


def write_key(path: Path, key: str) -> None:
    """Write key to path atomically, never readable by others: a 0600 file renamed into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(key + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def api_key(root: Path) -> tuple[str, bool]:
    """Return the kept key, or a new one written to the key file; and whether it is new."""
    path = root / KEY_FILE
    key = read_key(path)
    if key is not None:
        return key, False
    key = secrets.token_urlsafe(24)
    write_key(path, key)
    return key, True


def rotate_logs(root: Path) -> None:
    """Keep the previous run's logs as *.log.1 so that each run's logs start empty."""
    for log in root.glob("*.log"):
        log.replace(log.with_name(log.name + ".1"))


def stale_redis(root: Path) -> int | None:
    """Return the pid of a redis-server an earlier run left on this directory, None if none."""
    pidfile = root / SUBDIR / PIDFILE
    try:
        pid = int(pidfile.read_text().strip())
        # redis-server rewrites its command line, but it runs in its --dir.
        ours = (
            Path(f"/proc/{pid}/comm").read_text().strip() == "redis-server"
            and Path(os.readlink(f"/proc/{pid}/cwd")) == root / SUBDIR
        )
    except (OSError, ValueError):
        ours = False
    if not ours:  # gone, or the pid now belongs to another process
        pidfile.unlink(missing_ok=True)
        return None
    return pid


def stop_stale_redis(root: Path, timeout: float = 30.0) -> int | None:
    """SIGTERM a redis-server left running on this directory and wait for it; return its pid."""
    pid = stale_redis(root)
    if pid is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)  # it writes its append-only file and exits
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and _state(pid) not in ("Z", "X"):
        if time.monotonic() > deadline:
            raise StartError(f"redis-server pid {pid} on {root} did not stop after SIGTERM")
        time.sleep(0.05)
    return pid


def _state(pid: int) -> str:
    """Return a process's state letter from /proc ("" when it is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""
