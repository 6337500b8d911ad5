"""Start and stop child processes as whole process groups."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process in its own session, logging to a file."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict | None = None) -> None:
        self.name, self.log, self.argv, self.env = name, log, argv, env
        self._log = log.open("ab")
        self.started = time.monotonic()
        self.popen = self._spawn()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )

    def restart(self) -> None:
        """Start the process again with the same command, environment and log."""
        self._kill_stragglers()
        self.started = time.monotonic()
        self.popen = self._spawn()

    def alive(self) -> bool:
        """Return whether the process is still running."""
        return self.popen.poll() is None

    def stop(self, grace: float = 20.0) -> None:
        """Send SIGTERM to the group, then SIGKILL what is left after grace seconds."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self._kill_stragglers()
        self._log.close()

    def _kill_stragglers(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def tail(self, lines: int = 20) -> str:
        """Return the last lines of the log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Backoff:
    """Restart delays per process: 1, 2, 4 … up to 30 s; back to 1 s after a minute of uptime."""

    first: float = 1.0
    cap: float = 30.0
    healthy_after: float = 60.0
    failures: dict[str, int] = field(default_factory=dict)

    def delay(self, name: str, uptime: float) -> float:
        """Return how long to wait before restarting name, which ran for uptime seconds."""
        failures = 0 if uptime >= self.healthy_after else self.failures.get(name, 0)
        self.failures[name] = failures + 1
        return min(self.first * 2**failures, self.cap)


def supervise(procs: list[Proc], backoff: Backoff, say: Callable[[str], None]) -> None:
    """Keep every process running, restarting any that exits with backoff; never returns."""
    due: dict[str, float] = {}
    while True:
        now = time.monotonic()
        for p in procs:
            if p.alive():
                continue
            if p.name not in due:
                wait = backoff.delay(p.name, now - p.started)
                due[p.name] = now + wait
                say(
                    f"{p.name} exited with {p.popen.returncode}; restarting in {wait:g}s\n"
                    f"{p.tail(5)}"
                )
            elif now >= due[p.name]:
                del due[p.name]
                p.restart()
                say(f"{p.name} restarted (pid {p.popen.pid})")
        time.sleep(0.2)


def wait_for(check: Callable[[], bool], timeout: float, what: str, procs: list[Proc]) -> None:
    """Poll check() until it is true; fail with the logs of any process that died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if not p.alive():
                sys.exit(f"{p.name} exited with {p.popen.returncode}:\n{p.tail()}")
        if check():
            return
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name}\n{p.tail()}" for p in procs)
    sys.exit(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")
