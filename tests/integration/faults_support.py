"""A private stack per fault test: redis-server, named workers and a gateway it can break.

The session stack of conftest.py is shared by many tests, so a test that kills or
reconfigures a process builds its own here instead. Everything runs with short timings
(TIMINGS) so a lost message comes back within seconds instead of hours; every process is
started in its own process group and stopped (then killed) by close(), and the temporary
directory is removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import redis
import requests
from celery import Celery
from kombu.exceptions import KombuError

from tuneloop.store import keys

from .conftest import child_env
from .support import (
    API_KEY,
    REDIS_SERVER,
    ApiClient,
    Service,
    Stack,
    free_port,
    job_state,
    wait_until,
)

# Short timings for every process of a fault stack (the defaults are minutes, not seconds).
VISIBILITY_TIMEOUT = 8.0  # an unacknowledged message of a dead worker comes back after this
HEARTBEAT_INTERVAL = 1.0  # a live worker refreshes its messages this often
RESTORE_INTERVAL = 1.0  # a live worker sweeps for messages of dead workers this often
LEASE_TTL = 4.0  # a dead runner's stage lease expires after this
SOFT_SHUTDOWN_TIMEOUT = 3.0  # SIGTERM gives running stages this long, then hands them back
TIMINGS = {
    "TUNELOOP_VISIBILITY_TIMEOUT": f"{VISIBILITY_TIMEOUT:g}",
    "TUNELOOP_HEARTBEAT_INTERVAL": f"{HEARTBEAT_INTERVAL:g}",
    "TUNELOOP_RESTORE_INTERVAL": f"{RESTORE_INTERVAL:g}",
    "TUNELOOP_LEASE_TTL": f"{LEASE_TTL:g}",
    "TUNELOOP_SOFT_SHUTDOWN_TIMEOUT": f"{SOFT_SHUTDOWN_TIMEOUT:g}",
}
EPOCH_SLEEP = 0.3  # "epoch=sleep:0.3": fine_tune slow enough to be hit mid-way
SLOW_EPOCHS = f"epoch=sleep:{EPOCH_SLEEP:g}"


def report_recovery(fault: str, seconds: float, detail: str = "") -> None:
    """Print the measured time to recovery of a fault (visible with pytest -s)."""
    print(f"\nRECOVERY {fault}: {seconds:.2f} s" + (f" ({detail})" if detail else ""), flush=True)


class FaultStack(Stack):
    """redis-server, any number of named workers and a gunicorn gateway, all private."""

    def __init__(self, root: Path, appendfsync: str | None = None) -> None:
        self.root, self.appendfsync = root, appendfsync
        self.redis_dir = root / "redis"
        self.redis_dir.mkdir()
        self.port = 0
        self.redis_service: Service | None = None
        self.workers: dict[str, Service] = {}
        self.gateway: Service | None = None
        self._redis_starts = 0
        for _ in range(3):  # the free port may be taken between probing and binding
            self.port = free_port()
            if self.start_redis(fail=False):
                break
        else:
            raise AssertionError(f"redis-server would not start\n{self.redis_log()}")
        url = f"redis://127.0.0.1:{self.port}/0"
        super().__init__(url, "", API_KEY, {"redis": self.redis_service})

    # -- redis ---------------------------------------------------------------------------

    def redis_argv(self) -> list[str]:
        """The command line: no RDB snapshots; an append-only file when appendfsync is set."""
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(self.redis_dir), "--save", ""]
        if self.appendfsync:
            argv += ["--appendonly", "yes", "--appendfsync", self.appendfsync]
        else:
            argv += ["--appendonly", "no"]
        return argv

    def redis_log(self) -> str:
        """The tail of the redis-server log."""
        return self.redis_service.log_tail(20) if self.redis_service else "(no redis-server)"

    def probe(self) -> redis.Redis:
        """A fresh, short-timeout client (not the stack's pooled one)."""
        url = f"redis://127.0.0.1:{self.port}/0"
        return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1)

    def redis_answers(self) -> bool:
        """Whether redis-server answers PING right now."""
        probe = self.probe()
        try:
            return bool(probe.ping())
        except redis.RedisError:
            return False
        finally:
            probe.close()

    def start_redis(self, fail: bool = True) -> bool:
        """Start redis-server on the stack's port and dir; wait until it answers PING."""
        self._redis_starts += 1
        log = self.root / f"redis-{self._redis_starts}.log"
        service = Service("redis-server", self.redis_argv(), log).start()
        self.redis_service = service
        if hasattr(self, "services"):
            self.services["redis"] = service

        def answers() -> bool:
            if not service.running:
                raise RuntimeError("exited")
            return self.redis_answers()

        try:
            wait_until(answers, 15.0, lambda: f"redis-server to answer\n{self.redis_log()}")
        except (RuntimeError, AssertionError):
            if fail:
                raise AssertionError(f"redis-server did not start\n{self.redis_log()}") from None
            service.stop()
            return False
        return True

    def stop_redis(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Send sig to redis-server (SIGTERM: it writes what it must and exits); wait for it."""
        service = self.redis_service
        assert service is not None and service.proc is not None
        service.proc.send_signal(sig)
        try:
            service.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"redis-server did not exit on signal {sig}\n{self.redis_log()}"
            ) from None
        service.stop()  # closes the log; the process is gone already

    # -- workers and gateway -------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a worker or the gateway: conftest's, plus the short timings."""
        return {**child_env(self.redis_url), **TIMINGS, **extra}

    def start_worker(
        self,
        name: str,
        failpoints: str = "",
        concurrency: int = 2,
        env: Mapping[str, str] | None = None,
        wait: bool = True,
        queues: str = "",
    ) -> Service:
        """Start `python -m tuneloop_worker -n name@%h`; wait until it answers a ping."""
        argv = [sys.executable, "-m", "tuneloop_worker", f"--concurrency={concurrency}"]
        argv += ["-Q", queues] if queues else []
        argv += ["--loglevel=INFO", "-n", f"{name}@%h"]
        extra = {"TUNELOOP_FAILPOINTS": failpoints, **(env or {})}
        service = Service(
            name, argv, self.root / f"{name}.log", env=self.env(**extra), cwd=self.root
        )
        assert name not in self.workers, f"worker {name} exists already"
        self.workers[name] = service
        self.services[name] = service
        service.start()
        if wait:
            self.wait_worker_ready(name)
        return service

    def wait_worker_ready(self, name: str, timeout: float = 60.0) -> None:
        """Wait until the worker's consumer runs: it answers a control ping."""
        service = self.workers[name]
        celery = _control_app(self.redis_url)

        def ready() -> bool:
            if not service.running:
                raise AssertionError(f"worker {name} exited during start-up\n{self.logs()}")
            # A connection of our own: kombu's global pool may hold one from before a restart.
            try:
                with celery.connection_for_write() as connection:
                    replies = celery.control.ping(timeout=0.5, connection=connection)
            except (redis.RedisError, OSError, KombuError):
                return False
            return any(node.startswith(f"{name}@") for reply in replies for node in reply)

        try:
            wait_until(ready, timeout, lambda: f"worker {name} to answer a ping\n{self.logs()}")
        finally:
            celery.close()

    def start_gateway(self, **env: str) -> Service:
        """Start gunicorn on a free port (env: extra settings); wait until /healthz answers."""
        port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "-c", "python:tuneloop_gateway.gunicorn_conf"]
        argv += ["-b", f"127.0.0.1:{port}"]
        argv += ["--workers", "2", "--timeout", "60", "--no-control-socket"]
        argv += ["--worker-tmp-dir", str(self.root), "tuneloop_gateway.app:create_app()"]
        self.gateway = Service(
            "gateway", argv, self.root / "gateway.log", env=self.env(**env), cwd=self.root
        )
        self.services["gateway"] = self.gateway
        self.base_url = f"http://127.0.0.1:{port}"
        self.gateway.start()
        with ApiClient(self.base_url, timeout=5.0) as anon:

            def healthy() -> bool:
                if not self.gateway.running:
                    raise AssertionError(f"the gateway exited during start-up\n{self.logs()}")
                try:
                    return anon.get("/healthz").status_code == 200
                except requests.ConnectionError:
                    return False

            wait_until(healthy, 30.0, lambda: f"/healthz to answer 200\n{self.logs()}", 0.2)
        return self.gateway

    def client(self, api_key: str | None = API_KEY) -> ApiClient:
        """Return a new client with the stack's key (pass None for one without)."""
        return ApiClient(self.base_url, api_key)

    def kill_worker(self, name: str) -> None:
        """kill -9 the worker's whole process group (main process and pool children)."""
        service = self.workers[name]
        assert service.proc is not None
        os.killpg(service.proc.pid, signal.SIGKILL)
        service.proc.wait(10)

    def worker_of(self, pid: int) -> str | None:
        """Return the name of the worker whose process group holds pid (None if none)."""
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            return None
        for name, service in self.workers.items():
            if service.proc is not None and service.proc.pid == group:
                return name
        return None

    def logs(self, lines: int = 30) -> str:
        """Tails of every process's log, for failure messages."""
        services = [*self.workers.values(), self.gateway, self.redis_service]
        return "\n".join(s.log_tail(lines) for s in services if s is not None)

    def log_text(self, name: str) -> str:
        """The whole log of one worker (or the gateway)."""
        service = self.services[name]
        return service.log_path.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        """Stop everything this stack started, the gateway first."""
        with contextlib.suppress(Exception):
            self.store.redis.close()
        for service in [self.gateway, *self.workers.values(), self.redis_service]:
            if service is not None:
                with contextlib.suppress(Exception):
                    service.stop(timeout=10.0)


def _control_app(redis_url: str) -> Celery:
    return Celery("fault-probe", broker=redis_url, backend=redis_url, set_as_current=False)


@contextlib.contextmanager
def fault_stack(
    appendfsync: str | None = None,
    workers: Iterable[tuple[str, str]] = (("w1", ""),),
    gateway_env: Mapping[str, str] | None = None,
) -> Iterator[FaultStack]:
    """A started stack (redis, the named workers with their failpoints, the gateway)."""
    root = Path(tempfile.mkdtemp(prefix="tuneloop-faults-"))
    stack: FaultStack | None = None
    try:
        stack = FaultStack(root, appendfsync)
        stack.start_gateway(**(gateway_env or {}))
        for name, failpoints in workers:
            stack.start_worker(name, failpoints)
        yield stack
    finally:
        if stack is not None:
            stack.close()
        if os.environ.get("TUNELOOP_FAULTS_KEEP"):  # keep the logs to debug a failure
            print(f"\nfault stack logs kept in {root}", flush=True)
        else:
            shutil.rmtree(root, ignore_errors=True)


# -- data and jobs ---------------------------------------------------------------------------

TOPICS = {
    "weather": ["rain", "snow", "wind", "sunny", "storm", "forecast", "cloudy", "fog"],
    "travel": ["flight", "train", "hotel", "visa", "airport", "luggage", "ticket", "ferry"],
    "billing": ["invoice", "refund", "charge", "payment", "receipt", "card", "subscription"],
}
PLACES = ["Oslo", "Lima", "Porto", "Kyoto", "Quito", "Bergen"]


def training_items(per_task: int = 12) -> list[dict]:
    """Rated interactions over three task types, varied enough for the router to learn."""
    items = []
    for task, words in TOPICS.items():
        for i in range(per_task):
            word, place = words[i % len(words)], PLACES[i % len(PLACES)]
            items.append(
                {
                    "input": f"Question {i} about the {word} in {place}?",
                    "output": f"About the {word} in {place}: answer {i}.",
                    "rating": 0.85 + 0.01 * (i % 10),
                    "task_type": task,
                }
            )
    return items


def seed_interactions(client: ApiClient, per_task: int = 12) -> list[str]:
    """Store the training items; return their ids."""
    response = client.post("/v1/interactions/batch", json={"items": training_items(per_task)})
    assert response.status_code == 201, response.text
    return response.json()["ids"]


def create_job(client: ApiClient, n_epochs: int, **request: object) -> str:
    """POST a job with n_epochs (and the lab's synthetic examples off); return its id."""
    hyperparameters = {"n_epochs": n_epochs, "early_stopping_patience": None}
    body = {"include_synthetic": False, "hyperparameters": hyperparameters, **request}
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def events_of(stack: FaultStack, job_id: str) -> list[dict]:
    """Every event of the job, read from the store (works while the gateway is busy)."""
    return stack.store.jobs.events(job_id, limit=100_000)[0]


def epochs_in(events: Iterable[dict]) -> list[int]:
    """The epoch numbers of the job's per-epoch `metrics` events, in order."""
    return [e["data"]["epoch"] for e in events if e["type"] == "metrics"]


def stages_started(events: Iterable[dict]) -> list[str]:
    """The stages of the job's stage.started events, in order."""
    return [e["data"]["stage"] for e in events if e["type"] == "stage.started"]


def wait_for_epochs(stack: FaultStack, job_id: str, at_least: int, timeout: float = 60.0) -> int:
    """Wait until the job has at least so many epoch events; return how many it has."""

    def enough() -> int:
        return n if (n := len(epochs_in(events_of(stack, job_id)))) >= at_least else 0

    return wait_until(
        enough,
        timeout,
        lambda: f"{at_least} epoch events of {job_id}: {describe_job(stack, job_id)}",
        interval=0.05,
    )


def describe_job(stack: FaultStack, job_id: str) -> str:
    """The job's state, deliveries, events and every log tail, for failure messages."""
    try:
        job = stack.store.jobs.get(job_id)
        events = [(e["type"], e["message"]) for e in events_of(stack, job_id)]
    except redis.RedisError as exc:
        return f"(redis unreachable: {exc})\n{stack.logs()}"
    deliveries = job and job.get("deliveries")
    return f"{job_state(job)} deliveries={deliveries}\nevents={events}\n{stack.logs()}"


def wait_job_status(
    client: ApiClient, stack: FaultStack, job_id: str, statuses: Iterable[str], timeout: float
) -> dict:
    """Poll GET /v1/jobs/{id} until its status is one of statuses; return the job."""
    wanted, last = set(statuses), {}

    def reached() -> dict | None:
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        last.update(response.json())
        return last if last["status"] in wanted else None

    return wait_until(
        reached,
        timeout,
        lambda: f"job {job_id} to be {sorted(wanted)}: {describe_job(stack, job_id)}",
        interval=0.1,
    )


def deliveries(stack: FaultStack, job_id: str) -> dict[str, int]:
    """How often each stage of the job started (the job record's crash counter)."""
    job = stack.store.jobs.get(job_id)
    assert job is not None, job_id
    return job["deliveries"]


def lease_holder(stack: FaultStack, job_id: str, stage: str) -> str | None:
    """The lease value "host|pid|rand" of the job's stage, or None when nobody holds it."""
    return stack.store.redis.get(keys.lease(job_id, stage))


def holder_pid(holder: str) -> int:
    """The process id in a lease value."""
    return int(holder.split("|")[1])


def alive(pid: int) -> bool:
    """Whether a process with this id exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class LeaseWatcher:
    """Poll a stage lease in a thread; record each new holder and who was still alive then."""

    def __init__(self, stack: FaultStack, job_id: str, stage: str, interval: float = 0.02) -> None:
        self.key, self.interval = keys.lease(job_id, stage), interval
        self.redis = redis.Redis.from_url(stack.redis_url, decode_responses=True, socket_timeout=2)
        # (time, new holder, the earlier holders whose process was still alive at that time)
        self.takeovers: list[tuple[float, str, list[str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-watcher", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                holder = self.redis.get(self.key)
            except redis.RedisError:
                continue
            if holder is not None and holder not in self.holders():
                earlier = [h for h in self.holders() if alive(holder_pid(h))]
                self.takeovers.append((time.monotonic(), holder, earlier))

    def holders(self) -> list[str]:
        """The distinct holders seen, in order of first appearance."""
        return [holder for _, holder, _ in self.takeovers]

    def overlaps(self) -> list[tuple[str, list[str]]]:
        """Each holder that took the lease while an earlier holder's process still lived."""
        return [(holder, earlier) for _, holder, earlier in self.takeovers if earlier]

    def __enter__(self) -> LeaseWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.redis.close()


def assert_one_run_per_epoch(events: list[dict], n_epochs: int) -> None:
    """Exactly one metrics event per epoch, 1..n_epochs, in order."""
    assert epochs_in(events) == list(range(1, n_epochs + 1)), [
        (e["type"], e["message"]) for e in events
    ]


def models_of(client: ApiClient, job_id: str) -> list[dict]:
    """The models GET /v1/models lists for the job."""
    response = client.get("/v1/models")
    assert response.status_code == 200, response.text
    return [m for m in response.json()["data"] if m.get("job_id") == job_id]


def comparable(result: dict) -> dict:
    """A job result without what differs between two jobs on the same data (the model id)."""
    return {k: v for k, v in result.items() if k != "model_id"}
