"""The whole stack as local processes: a private redis-server, workers and gunicorn gateways.

`make run`, `make demo` and the benchmarks call start(); the integration tests start the
parts one by one (named workers with their queues, failpoints and settings, gateways with
their own settings) and break them on purpose (kill, signal, stop and restart Redis).
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import redis

from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE, WEBHOOKS_QUEUE
from tuneloop.store import Store
from tuneloop_devstack import redis_server
from tuneloop_devstack.procs import Proc, StartError, free_port, stop_all, wait_for

GUNICORN = ["-m", "gunicorn", "-c", "python:tuneloop_gateway.gunicorn_conf"]
APP = "tuneloop_gateway.app:create_app()"
WEBHOOK_THREADS = 8  # the webhooks worker's threads: attempts waiting on slow endpoints


@dataclass
class Stack:
    """Processes started for one run; stop() ends every one of them."""

    api_key: str
    port: int = 0  # the gateway's port; 0: a free one
    workers: int = 2  # concurrency of start()'s pipeline worker
    redis_url: str | None = None  # a Redis to use; None: start a private redis-server
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tuneloop-")))
    procs: list[Proc] = field(default_factory=list)
    base_env: Mapping[str, str] | None = None  # the children's environment; None: ours
    gunicorn_args: tuple[str, ...] = ()  # more gunicorn options for every gateway
    grace: float = 20.0  # seconds stop() gives each process after SIGTERM
    die_with_parent: bool = False  # children get SIGTERM if the starting thread dies
    cwd: Path | None = None  # the children's working directory; None: ours
    ports: dict[str, int] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)  # each gateway's /metrics port

    @property
    def base_url(self) -> str:
        """Return the address of the gateway named "gateway"."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, gateway: str = "gateway") -> str:
        """Return the address of a gateway."""
        return f"http://127.0.0.1:{self.ports[gateway]}"

    def metrics_url(self, gateway: str = "gateway") -> str:
        """Return the address of a gateway's Prometheus endpoint (its own port, not the API's)."""
        return f"http://127.0.0.1:{self.metrics_ports[gateway]}/metrics"

    def start(self) -> None:
        """Start redis (unless given), the workers and the gateway; wait until ready."""
        if self.redis_url is None:
            self.start_redis()
        self.start_worker("worker", concurrency=self.workers, queues=PIPELINE_QUEUE, wait=False)
        self.start_worker("responder", concurrency=1, queues=INTERACTIVE_QUEUE, wait=False)
        self.start_webhooks_worker(wait=False)
        self.start_beat(wait=False)
        self.start_gateway(port=self.port, wait=False)
        wait_for(self._ready, 90, "the gateway and a worker to be ready", self.procs)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/readyz", timeout=3) as r:
                workers = json.load(r).get("workers", [])
        except OSError:
            return False
        # The pipeline worker, the responder and the webhooks worker must answer.
        return {w.split("@")[0] for w in workers} >= {"worker", "responder", "webhooks"}

    def env(self, **extra: str) -> dict[str, str]:
        """Return a child's environment: the base, the Redis URL and the key, then extra."""
        base = os.environ if self.base_env is None else self.base_env
        assert self.redis_url is not None, "start_redis() first"
        # Its log files are read by people: plain text unless LOG_FORMAT says otherwise.
        return {
            "LOG_FORMAT": "text",
            **base,
            "REDIS_URL": self.redis_url,
            "TUNELOOP_API_KEY": self.api_key,
            **extra,
        }

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None) -> Proc:
        assert all(p.name != name for p in self.procs), f"{name} runs already"
        log = self.workdir / f"{name}.log"
        proc = Proc(name, argv, log, env, cwd=self.cwd, die_with_parent=self.die_with_parent)
        self.procs.append(proc)
        return proc

    # -- redis ---------------------------------------------------------------------------

    def start_redis(self, appendfsync: str | None = "everysec") -> str:
        """Start redis-server on a free port (again: the same port and data); wait for PING."""
        if (old := self.find("redis")) is not None:
            old.restart()
            self._wait_redis(old)
            return self.redis_url
        data = self.workdir / redis_server.SUBDIR
        data.mkdir(exist_ok=True)
        binary = redis_server.redis_binary()
        for _ in range(3):  # the free port may be taken between probing and binding
            port = free_port()
            self.redis_url = f"redis://127.0.0.1:{port}/0"
            argv = redis_server.redis_argv(port, data, appendfsync, binary)
            proc = self._spawn("redis", argv, None)
            try:
                self._wait_redis(proc)
                return self.redis_url
            except StartError:
                proc.stop(5.0)
                self.procs.remove(proc)
        raise StartError(f"redis-server would not start\n{proc.tail()}")

    def _wait_redis(self, proc: Proc) -> None:
        url = self.redis_url
        wait_for(lambda: redis_server.answers(url), 20, "redis-server to answer PING", [proc], 0.05)

    def stop_redis(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Send sig to redis-server (SIGTERM: it writes what it must and exits); wait for it."""
        proc = self.proc("redis")
        proc.signal(sig, group=False)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise StartError(f"redis-server did not exit on signal {sig}\n{proc.tail()}") from None
        proc.stop()  # closes the log; the process is gone already

    def redis_answers(self) -> bool:
        """Return whether the stack's Redis answers PING right now."""
        return self.redis_url is not None and redis_server.answers(self.redis_url)

    def probe(self) -> redis.Redis:
        """Return a fresh Redis client with short timeouts."""
        assert self.redis_url is not None
        return redis_server.client(self.redis_url)

    @cached_property
    def store(self) -> Store:
        """Return a Store on the stack's Redis."""
        assert self.redis_url is not None
        return Store.from_url(self.redis_url)

    # -- workers and gateways ------------------------------------------------------------

    def start_worker(
        self,
        name: str,
        failpoints: str = "",
        concurrency: int = 2,
        env: Mapping[str, str] | None = None,
        wait: bool = True,
        queues: str = "",
        pool: str = "",
    ) -> Proc:
        """Start `python -m tuneloop_worker -n name@%h` (queues: both when ""; pool: Celery's
        default, prefork, when ""); wait for it."""
        argv = [sys.executable, "-m", "tuneloop_worker", "-n", f"{name}@%h"]
        argv += [f"--concurrency={concurrency}", "--loglevel=INFO"]
        argv += ["-Q", queues] if queues else []
        argv += [f"--pool={pool}"] if pool else []
        extra = {"TUNELOOP_FAILPOINTS": failpoints} if failpoints else {}
        proc = self._spawn(name, argv, self.env(**extra, **(env or {})))
        if wait:
            self.wait_worker(name)
        return proc

    def start_beat(
        self, name: str = "beat", env: Mapping[str, str] | None = None, wait: bool = False
    ) -> Proc:
        """Start the scheduler (`python -m tuneloop_worker.beat`); with wait, until it holds
        the scheduler's lock (a second scheduler waits for the first's)."""
        argv = [sys.executable, "-m", "tuneloop_worker.beat"]
        proc = self._spawn(name, argv, self.env(**(env or {})))
        if wait:
            self.wait_beat(name)
        return proc

    def wait_beat(self, name: str = "beat", timeout: float = 60.0) -> None:
        """Wait until the scheduler holds the lock and fires (its log says so)."""
        proc = self.proc(name)
        wait_for(
            lambda: "beat: Acquired lock" in proc.text(True),
            timeout,
            f"scheduler {name} to hold the lock",
            [proc],
            0.05,
        )

    def start_webhooks_worker(
        self,
        name: str = "webhooks",
        env: Mapping[str, str] | None = None,
        wait: bool = True,
        threads: int = WEBHOOK_THREADS,
    ) -> Proc:
        """Start the webhooks worker: the webhooks queue alone, on a pool of threads (an
        attempt mostly waits on its endpoint)."""
        return self.start_worker(
            name, concurrency=threads, env=env, wait=wait, queues=WEBHOOKS_QUEUE, pool="threads"
        )

    def wait_worker(self, name: str, timeout: float = 60.0) -> None:
        """Wait until the worker's consumer runs (its log says "name@host ready.")."""
        proc = self.proc(name)

        def ready() -> bool:
            return any(
                line.startswith(f"{name}@") and line.endswith(" ready.")
                for line in map(_message, proc.text(True).splitlines())
            )

        wait_for(ready, timeout, f"worker {name} to be ready", [proc], 0.05)

    def start_gateway(
        self,
        name: str = "gateway",
        port: int = 0,
        env: Mapping[str, str] | None = None,
        wait: bool = True,
    ) -> Proc:
        """Start gunicorn with the gateway's settings module; wait until /healthz answers.

        Its metrics endpoint gets a free port on 127.0.0.1 unless TUNELOOP_METRICS_PORT is set
        (in env or the base environment), so that several gateways never share one.
        """
        port = port or free_port()
        argv = [sys.executable, *GUNICORN, "--bind", f"127.0.0.1:{port}", *self.gunicorn_args]
        child_env = self.env(**(env or {}))
        child_env.setdefault("TUNELOOP_METRICS_PORT", str(free_port()))
        child_env.setdefault("TUNELOOP_METRICS_ADDR", "127.0.0.1")
        proc = self._spawn(name, [*argv, APP], child_env)
        self.ports[name] = port
        self.metrics_ports[name] = int(child_env["TUNELOOP_METRICS_PORT"])
        if name == "gateway":
            self.port = port
        if wait:
            self.wait_gateway(name)
        return proc

    def wait_gateway(self, name: str = "gateway", timeout: float = 60.0) -> None:
        """Wait until the gateway's /healthz answers 200."""
        url = self.url(name) + "/healthz"
        wait_for(lambda: _answers_200(url), timeout, f"{url} to answer 200", [self.proc(name)], 0.1)

    # -- processes -----------------------------------------------------------------------

    def find(self, name: str) -> Proc | None:
        """Return the process of that name, None when there is none."""
        return next((p for p in self.procs if p.name == name), None)

    def proc(self, name: str) -> Proc:
        """Return the process of that name."""
        found = self.find(name)
        assert found is not None, f"no process {name}: {[p.name for p in self.procs]}"
        return found

    def kill(self, name: str) -> None:
        """kill -9 the process group (a worker's main process and its pool children)."""
        self.proc(name).kill()

    def remove(self, name: str) -> None:
        """Stop one process and forget it."""
        proc = self.proc(name)
        proc.stop(self.grace)
        self.procs.remove(proc)
        self.ports.pop(name, None)
        self.metrics_ports.pop(name, None)

    def worker_of(self, pid: int) -> str | None:
        """Return the name of the process whose group holds pid (None if none)."""
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            return None
        return next((p.name for p in self.procs if p.pid == group), None)

    def log_text(self, name: str) -> str:
        """Return the whole log of one process."""
        return self.proc(name).text()

    def logs(self, lines: int = 30) -> str:
        """Return the tail of every process's log, for failure messages."""
        return "\n".join(f"--- {p.name} ({_state(p)})\n{p.tail(lines)}" for p in self.procs)

    def stop(self) -> None:
        """Stop the gateways and the workers, then redis; close the store's connections."""
        if "store" in self.__dict__:
            self.store.redis.close()
        stop_all([p for p in reversed(self.procs) if p.name != "redis"], self.grace)
        stop_all([p for p in self.procs if p.name == "redis"], self.grace)
        self.procs.clear()


def _message(line: str) -> str:
    """Return the message of a log line, plain text ("...: message") or JSON."""
    if line.startswith("{"):
        try:
            return str(json.loads(line).get("message", ""))
        except (ValueError, AttributeError):
            return line
    return line.rsplit(": ", 1)[-1]


def _state(proc: Proc) -> str:
    return "running" if proc.alive() else f"exited with {proc.returncode}"


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):
        return False
