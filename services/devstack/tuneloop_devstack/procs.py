"""Start, signal and stop child processes as whole process groups."""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1


class StartError(SystemExit):
    """Something did not start: the launcher exits with the message, a test fails with it."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGTERM the child when the thread that started it dies without cleaning up."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Proc:
    """A child process in its own session, logging to a file; started when made."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        *,
        cwd: Path | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.name, self.log, self.argv = name, log, argv
        self.env = dict(env) if env is not None else None
        self.cwd, self.die_with_parent = cwd, die_with_parent
        self._log = None
        self.log_offset = 0  # where this start's output begins in the log
        self.started = time.monotonic()
        self.popen = self._spawn()

    def _spawn(self) -> subprocess.Popen:
        if self._log is None or self._log.closed:
            self._log = self.log.open("ab")
        self.log_offset = self._log.tell()
        return subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if self.die_with_parent else None,
        )

    @property
    def pid(self) -> int:
        """Return the process id (also its process group's id)."""
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """Return the exit status, None while it runs."""
        return self.popen.poll()

    def restart(self) -> None:
        """Start the process again with the same command, environment and log."""
        self._kill_stragglers()
        self.started = time.monotonic()
        self.popen = self._spawn()

    def alive(self) -> bool:
        """Return whether the process is still running."""
        return self.popen.poll() is None

    def signal(self, sig: int, group: bool = True) -> None:
        """Send sig to the whole process group (or to the leader only)."""
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(self.popen.pid, sig)
            else:
                self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit; return its status (TimeoutExpired after timeout)."""
        return self.popen.wait(timeout)

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the whole process group and reap the leader."""
        self.signal(signal.SIGKILL)
        self.popen.wait(timeout)

    def stop(self, grace: float = 20.0) -> None:
        """Send SIGTERM to the group, then SIGKILL what is left after grace seconds."""
        stop_all([self], grace)

    def reap(self, deadline: float) -> None:
        """Wait for the leader until deadline, SIGKILL the group, close the log."""
        for timeout in (max(0.0, deadline - time.monotonic()), 5.0):
            try:
                self.popen.wait(timeout=timeout)
                break
            except subprocess.TimeoutExpired:
                self._kill_stragglers()
        self._kill_stragglers()  # pool children the leader left behind, if any
        if self._log is not None:
            self._log.close()

    def _kill_stragglers(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def text(self, since_start: bool = False) -> str:
        """Return the log (only this start's part when since_start)."""
        with self.log.open("rb") as fh:
            fh.seek(self.log_offset if since_start else 0)
            return fh.read().decode(errors="replace")

    def tail(self, lines: int = 20) -> str:
        """Return the last lines of the log."""
        return "\n".join(self.text().splitlines()[-lines:])


def stop_all(procs: list[Proc], grace: float) -> None:
    """SIGTERM every process at once, then SIGKILL what is left of each after grace seconds."""
    for proc in procs:
        if proc.alive():
            proc.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        proc.reap(deadline)


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


def wait_for(
    check: Callable[[], bool], timeout: float, what: str, procs: list[Proc], every: float = 0.2
) -> None:
    """Poll check() until it is true; StartError with the logs of any process that died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if not p.alive():
                raise StartError(f"{p.name} exited with {p.popen.returncode}:\n{p.tail()}")
        if check():
            return
        time.sleep(every)
    tails = "\n".join(f"--- {p.name}\n{p.tail()}" for p in procs)
    raise StartError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")
