"""`make compose-test`: bring the compose stack up for real, scale it, stop it, and check it.

Starts a Docker engine if none answers (and stops it at the end), builds local base images
from Debian's packages when the default images cannot be pulled, then, with the monitoring
profile on:

1. `docker-compose up -d --build --scale worker=3` and wait for /readyz;
2. post Banking77 (or, without it, generated rows) and three jobs; all three succeed, and the
   logs show every worker container ran stages;
3. scale 3 -> 1 -> 3 while a job fine-tunes; it still succeeds;
4. `docker-compose stop worker` while a job fine-tunes, then `start worker`; it finishes;
5. Prometheus scrapes the gateway and Flower; the gateway's metrics count the jobs;
6. `docker-compose down -v`.

Each step's wall time is printed. Exit status 0 only when every check held.

The whole run has an overall timeout (COMPOSE_TEST_TIMEOUT seconds, default 1500: well under
a CI job's 90 minutes). When it fires, the step running is cut (its docker-compose or docker
command killed), `docker-compose down -v` and the stop of a dockerd this test started still
run, each bounded, and the test exits 1 naming the step it was in.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from engine import REPO, Engine, NoEngineError, copy_build_ca, images

PROJECT = "tuneloopct"
BANKING77 = Path(os.environ.get("TUNELOOP_BANKING77", REPO.parent / "shared/data/banking77"))
WORKERS = 3
# Pages and assets that live in package data: a package built without them fails here.
PAGES = (
    ("/ui/login", "<form"),
    ("/ui/static/pages.css", "{"),
    ("/ui/static/job.js", "function"),
    ("/docs/static/swagger-ui-bundle.js", "SwaggerUI"),
)
TIMES: list[tuple[str, float]] = []
JOBS: list[str] = []  # every job the test posted
RUNNING: list[str] = []  # the steps running now, outermost first
TIMEOUT_SETTING = "COMPOSE_TEST_TIMEOUT"
DEFAULT_TIMEOUT = 25 * 60.0  # seconds; CI gives the whole job 90 minutes
CLEANUP_TIMEOUT = 300.0  # seconds for each clean-up command once the test is over


class CheckError(Exception):
    """A check of the compose test did not hold."""


class OverallTimeoutError(CheckError):
    """The compose test ran past its overall timeout."""


def overall_timeout(env: Mapping[str, str]) -> float:
    """Return the overall timeout in seconds from the environment; ValueError if it is bad."""
    raw = env.get(TIMEOUT_SETTING, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{TIMEOUT_SETTING} must be a positive number of seconds, not {raw!r}")
    return seconds


class Deadline:
    """The overall timeout: armed while the test works, never while it cleans up."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.ends = seconds, time.monotonic() + seconds

    def expired(self, *_: object) -> None:
        """Raise OverallTimeoutError naming the step that was running (the SIGALRM handler)."""
        where = " > ".join(RUNNING) or "between steps"
        raise OverallTimeoutError(
            f"overall timeout of {self.seconds:g}s ({TIMEOUT_SETTING}) reached during: {where}"
        )

    @contextmanager
    def armed(self) -> Iterator[None]:
        """Run the block with the time left; OverallTimeoutError is raised in it when it is up."""
        left = self.ends - time.monotonic()
        if left <= 0:
            self.expired()
        previous = signal.signal(signal.SIGALRM, self.expired)
        began = time.monotonic()
        outer, _ = signal.setitimer(signal.ITIMER_REAL, left)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if outer:  # a timer set before (pytest-timeout's, say) goes on with its time left
                signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - began), 1e-3))


def check(ok: bool, what: str) -> None:
    """Raise CheckError(what) unless ok; print it otherwise."""
    if not ok:
        raise CheckError(what)
    print(f"  ok: {what}")


@contextmanager
def step(name: str) -> Iterator[None]:
    """Time a step and print it."""
    print(f"== {name}", flush=True)
    began = time.monotonic()
    RUNNING.append(name)
    try:
        yield
    finally:
        RUNNING.pop()
        TIMES.append((name, time.monotonic() - began))
        print(f"   {name}: {TIMES[-1][1]:.1f}s", flush=True)


def free_port() -> int:
    """Return a TCP port free on localhost right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Compose:
    """docker-compose on the repository's file, with this test's project name and settings."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(
        self, *args: str, check: bool = True, capture: bool = False, timeout: float | None = None
    ) -> str:
        """Run docker-compose with args; return its output when captured."""
        cmd = ["docker-compose", "-p", PROJECT, "-f", str(REPO / "docker-compose.yml")]
        cmd += ["--profile", "monitoring", *args]
        try:
            out = subprocess.run(
                cmd,
                cwd=REPO,
                env=self.env,
                text=True,
                capture_output=capture,
                check=False,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            command = " ".join(args)
            raise CheckError(f"docker-compose {command}: killed after {timeout:g}s") from None
        if check and out.returncode != 0:
            output = f":\n{out.stdout}{out.stderr}" if capture else " (output above)"
            raise CheckError(f"docker-compose {' '.join(args)} failed{output}")
        return out.stdout if capture else ""

    def worker_containers(self) -> list[str]:
        """Return the ids of the running worker containers."""
        return self("ps", "-q", "worker", capture=True).split()


class Api:
    """The gateway on localhost, with the test's key."""

    def __init__(self, port: int, key: str) -> None:
        self.base, self.key = f"http://127.0.0.1:{port}", key

    def call(self, method: str, path: str, body: object = None, timeout: float = 30) -> dict:
        """Send one request; return the JSON answer (HTTPError on a non-2xx)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.key}")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.load(resp)

    def text(self, path: str) -> str:
        """GET a page without credentials; return its body (HTTPError on a non-2xx)."""
        with urllib.request.urlopen(self.base + path, timeout=30) as resp:
            return resp.read().decode()

    def ready(self) -> bool:
        """Return whether /readyz answers 200."""
        try:
            self.call("GET", "/readyz", timeout=5)
            return True
        except (urllib.error.URLError, OSError, ValueError):
            return False


def wait_for(what: str, done: Callable[[], bool], timeout: float, every: float = 0.5) -> None:
    """Poll done() until true; CheckError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise CheckError(f"{what}: not within {timeout:.0f}s")
        time.sleep(every)


def intents() -> tuple[list[dict], list[dict], str]:
    """Return rated rows, eval cases and where they came from (Banking77 or generated)."""
    if (BANKING77 / "train.csv").exists():
        with (BANKING77 / "train.csv").open(newline="") as f:
            raw = list(csv.DictReader(f))
        with (BANKING77 / "test.csv").open(newline="") as f:
            test = list(csv.DictReader(f))
        label = f"Banking77 ({len(raw)} rows)"
    else:
        rng = random.Random(7)
        words = [f"w{i}" for i in range(2000)]
        raw = [
            {
                "text": " ".join(rng.sample(words[c * 20 : c * 20 + 60], 8)),
                "category": f"intent_{c}",
            }
            for c in range(77)
            for _ in range(130)
        ]
        test = raw[::10]
        label = f"generated intents ({len(raw)} rows; Banking77 not found at {BANKING77})"
    clean = lambda c: re.sub(r"[^A-Za-z0-9_.:-]", "", c)  # noqa: E731
    rows = [
        {
            "input": r["text"],
            "output": f"I can help with that: {r['category'].replace('_', ' ')}.",
            "rating": 0.9,
            "task_type": clean(r["category"]),
        }
        for r in raw
    ]
    cases = [{"input": r["text"], "expected_type": clean(r["category"])} for r in test[:500]]
    return rows, cases, label


def post_job(api: Api, request: dict) -> str:
    """POST a job; return its id (and remember it in JOBS)."""
    JOBS.append(api.call("POST", "/v1/jobs", request)["id"])
    return JOBS[-1]


def job_status(api: Api, job_id: str) -> dict:
    """Return the job."""
    return api.call("GET", f"/v1/jobs/{job_id}")


def wait_job(api: Api, job_id: str, timeout: float = 300) -> dict:
    """Poll a job to its end; CheckError unless it succeeded."""
    box: dict = {}

    def ended() -> bool:
        box["job"] = job_status(api, job_id)
        return box["job"]["status"] in ("succeeded", "failed", "cancelled")

    wait_for(f"job {job_id} to end", ended, timeout)
    job = box["job"]
    check(job["status"] == "succeeded", f"job {job_id} succeeded ({job['status']} {job['error']})")
    return job


def fine_tune_hosts(api: Api, job_id: str) -> list[str]:
    """Return the hosts (container ids) of the job's fine_tune stage.started event."""
    page = api.call("GET", f"/v1/jobs/{job_id}/events?limit=1000")
    return [
        e["data"]["host"]
        for e in page["data"]
        if e["type"] == "stage.started" and e["data"]["stage"] == "fine_tune"
    ]


def fine_tune_starts(compose: Compose, job_id: str) -> list[str]:
    """Return the worker containers (short ids) whose JSON logs show the job's fine_tune start."""
    starts = []
    for container in compose.worker_containers():
        logs = subprocess.run(
            ["docker", "logs", container], text=True, capture_output=True, check=True
        )
        for line in (logs.stdout + logs.stderr).splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if (
                isinstance(record, dict)
                and record.get("job_id") == job_id
                and record.get("stage") == "fine_tune"
                and record["message"].endswith(": started")
            ):
                starts.append((record["ts"], container[:12]))
    return [host for _, host in sorted(starts)]


def resumed(api: Api, job_id: str) -> str:
    """Return the job's "resuming fine-tuning" event message, or ""."""
    page = api.call("GET", f"/v1/jobs/{job_id}/events?limit=1000")
    return next((e["message"] for e in page["data"] if e["message"].startswith("resuming")), "")


def fine_tune_host(api: Api, job_id: str) -> str:
    """Wait until the job's fine_tune runs; return its host."""
    wait_for(f"job {job_id} to reach fine_tune", lambda: fine_tune_hosts(api, job_id), 180, 0.2)
    return fine_tune_hosts(api, job_id)[0]


def names() -> dict[str, str]:
    """Return each running container's name by its host name (the short id)."""
    out = subprocess.run(
        ["docker", "ps", "--filter", f"label=com.docker.compose.project={PROJECT}",
         "--format", "{{.ID}} {{.Names}}"],
        text=True, capture_output=True, check=True,
    ).stdout  # fmt: skip
    return dict(line.split() for line in out.splitlines())


def containers_that_ran_stages(compose: Compose) -> set[str]:
    """Return the worker containers whose logs show a finished task."""
    logs = compose("logs", "--no-color", "worker", capture=True)
    return {
        line.split("|", 1)[0].strip()
        for line in logs.splitlines()
        if "|" in line and "succeeded in" in line
    }


def scrape(url: str) -> str:
    """GET a text page."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode()


def prometheus_targets_up(port: int) -> dict[str, str]:
    """Return each Prometheus scrape job's health."""
    body = json.loads(scrape(f"http://127.0.0.1:{port}/api/v1/targets"))
    return {t["labels"]["job"]: t["health"] for t in body["data"]["activeTargets"]}


def promql(port: int, query: str) -> float | None:
    """Return the one value of an instant PromQL query, or None when it has none."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    result = json.loads(scrape(url))["data"]["result"]
    return float(result[0]["value"][1]) if len(result) == 1 else None


def scenario(compose: Compose, api: Api, ports: dict[str, int]) -> None:
    """Run the checks against the stack."""
    with step(f"docker-compose up -d --build --scale worker={WORKERS}"):
        log = Path(tempfile.gettempdir()) / "tuneloop-compose-build.log"
        try:
            log.write_text(
                compose("up", "-d", "--build", "--scale", f"worker={WORKERS}", capture=True)
            )
        except CheckError as exc:
            log.write_text(str(exc))
            raise CheckError(f"docker-compose up failed; its output is in {log}") from None
        print(f"   build and start output: {log}")
    with step("wait for /readyz"):
        wait_for("/readyz", api.ready, 120)
    rows, cases, label = intents()
    with step(f"post {label}"):
        for i in range(0, len(rows), 1000):
            api.call("POST", "/v1/interactions/batch", {"items": rows[i : i + 1000]})
    quick = {"include_synthetic": False, "eval_set": cases}
    with step(f"three jobs at once on {WORKERS} workers"):
        ids = [post_job(api, quick) for _ in range(3)]
        for job_id in ids:
            wait_job(api, job_id)
        ran = containers_that_ran_stages(compose)
        check(len(ran) == WORKERS, f"all {WORKERS} worker containers ran stages: {sorted(ran)}")
    with step("report pages and /docs are served from the image"):
        for path, marker in PAGES:
            page = api.text(path)
            check(marker in page, f"GET {path} holds {marker!r}")
    slow = {
        **quick,
        "hyperparameters": {"n_epochs": 80, "early_stopping_patience": None},
    }
    with step("scale 3 -> 1 -> 3 while a job fine-tunes"):
        # Compose keeps worker_1 when it scales down: wait for a job that runs elsewhere.
        for _ in range(5):
            job_id = post_job(api, slow)
            runner = fine_tune_host(api, job_id)
            if not names()[runner].endswith("_worker_1"):
                break
            wait_job(api, job_id)
        else:
            raise CheckError("five jobs in a row fine-tuned on worker_1")
        print(f"   {job_id} fine-tunes on {names()[runner]} ({runner})")
        began = time.monotonic()
        compose("up", "-d", "--no-recreate", "--scale", "worker=1")
        check(len(compose.worker_containers()) == 1, "scaled to 1 worker")
        down = time.monotonic() - began
        began = time.monotonic()
        compose("up", "-d", "--no-recreate", "--scale", f"worker={WORKERS}")
        check(len(compose.worker_containers()) == WORKERS, f"scaled back to {WORKERS} workers")
        print(f"   scale 3 -> 1: {down:.1f}s, 1 -> 3: {time.monotonic() - began:.1f}s")
        wait_job(api, job_id)
        starts = fine_tune_starts(compose, job_id)
        check(
            runner not in names() and starts and runner not in starts,
            f"fine_tune started on {runner} (removed), then on {starts}",
        )
        check(resumed(api, job_id), "it resumed from a checkpoint: " + resumed(api, job_id))
    with step("docker-compose stop worker mid-job, then start"):
        job_id = post_job(api, slow)
        fine_tune_host(api, job_id)
        compose("stop", "worker")
        check(job_status(api, job_id)["status"] == "running", "the job waits while no worker runs")
        compose("start", "worker")
        wait_job(api, job_id)
        starts = fine_tune_starts(compose, job_id)
        check(len(starts) > 1, f"fine_tune started again after the stop: on {starts}")
        check(resumed(api, job_id), "it resumed from a checkpoint: " + resumed(api, job_id))
    with step("monitoring: Prometheus scrapes the gateway and Flower"):
        wanted = {"tuneloop-gateway": "up", "flower": "up"}
        wait_for(
            "Prometheus targets up",
            lambda: prometheus_targets_up(ports["prometheus"]) == wanted,
            90,
            every=2,
        )
        print(f"  ok: Prometheus targets: {wanted}")
        flower = scrape(f"http://127.0.0.1:{ports['flower']}/metrics")
        check("flower_events_total" in flower, "Flower serves Celery metrics")
        query = functools.partial(promql, ports["prometheus"])
        succeeded = 'tuneloop_jobs{status="succeeded"}'
        wait_for("Prometheus to scrape the last job", lambda: query(succeeded) == len(JOBS), 60, 2)
        print(f"  ok: {succeeded} = {len(JOBS)}, the jobs this test ran")
        check(query("tuneloop_interactions_stored") == len(rows), f"{len(rows)} interactions")
        runs = query('tuneloop_stage_duration_seconds_count{stage="fine_tune"}')
        check(
            runs == len(JOBS),
            f"{runs} fine_tune runs finished, one per job (a stopped run did not finish)",
        )
        rate = query("tuneloop_fine_tune_epochs_total / tuneloop_fine_tune_epoch_seconds_total")
        posts = query('sum(tuneloop_http_requests_total{route="/v1/jobs",method="POST"})')
        check(posts == len(JOBS), f"{posts:g} POST /v1/jobs counted; {rate:.1f} epochs/s")


def clean_up(compose: Compose, failed: bool) -> None:
    """Show the logs of a failed run, then remove the test's containers and volumes (bounded)."""
    try:
        if failed:
            print(compose("logs", "--no-color", "--tail=40", check=False, capture=True, timeout=60))
        with step("docker-compose down -v"):
            compose("down", "-v", "--remove-orphans", check=False, timeout=CLEANUP_TIMEOUT)
    except CheckError as exc:
        print(f"   clean-up: {exc}", file=sys.stderr)


def main(argv: list[str]) -> int:
    """Run the compose test; return the exit status."""
    if argv not in ([], ["--if-engine"]):
        print(f"usage: {sys.argv[0]} [--if-engine]", file=sys.stderr)
        return 2
    try:
        deadline = Deadline(overall_timeout(os.environ))
    except ValueError as exc:
        print(f"{sys.argv[0]}: {exc}", file=sys.stderr)
        return 2
    print(f"overall timeout: {deadline.seconds:g}s ({TIMEOUT_SETTING})")
    engine = Engine()
    key = secrets.token_hex(16)
    ports = {"gateway": free_port(), "flower": free_port(), "prometheus": free_port()}
    failed: str | None = None
    try:
        with deadline.armed():
            with step("Docker engine"):
                try:
                    engine.ensure()
                except NoEngineError as exc:
                    if argv == ["--if-engine"]:
                        print(f"COMPOSE TEST SKIPPED: {exc}")
                        return 0
                    raise
                print("   dockerd started by this test" if engine.started else "   engine running")
            with step("base images"):
                chosen = images()
                print("   " + ", ".join(f"{k}={v}" for k, v in chosen.items()))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TUNELOOP_", "REDIS_"))},
            **chosen,
            "REDIS_PASSWORD": secrets.token_hex(16),
            "TUNELOOP_API_KEY": key,
            "PORT": str(ports["gateway"]),
            "FLOWER_PORT": str(ports["flower"]),
            "PROMETHEUS_PORT": str(ports["prometheus"]),
            "WORKER_CONCURRENCY": "1",
            "LOG_LEVEL": "INFO",
        }
        compose = Compose(env)
        copies = copy_build_ca()
        try:
            with deadline.armed():
                scenario(compose, Api(ports["gateway"], key), ports)
        except CheckError as exc:
            failed = str(exc)
        finally:
            clean_up(compose, failed is not None)
            for copy in copies:
                copy.unlink(missing_ok=True)
    except (RuntimeError, CheckError) as exc:
        failed = str(exc)
    finally:
        if engine.started:
            with step("stop the dockerd this test started"):
                engine.stop()
    print("step times: " + ", ".join(f"{name} {secs:.1f}s" for name, secs in TIMES))
    print(f"total: {sum(s for _, s in TIMES):.1f}s")
    if failed:
        print(f"COMPOSE TEST FAILED: {failed}", file=sys.stderr)
        return 1
    print("compose test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
