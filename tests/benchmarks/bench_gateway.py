"""The gateway against bare baselines on one redis-server, interleaved A, B, A, B ...

A is the gateway (auth with an ingest+jobs key, its rate limit on, validation, metrics,
logs), B a bare Flask app (bare_app.py: parse JSON, one redis-py call or pipeline), both
under gunicorn with tuneloop_gateway.gunicorn_conf (same worker class and count) and both
writing to the same redis-server with its AOF (appendfsync everysec). Figures:

- POST /v1/interactions, one item: requests/s, p50 and p99 latency;
- POST /v1/interactions/batch of 1,000 items against the bare app's pipelined SETs of the
  same 1,000 records: records/s;
- GET /v1/jobs/{id} of a finished job, and of a queued one (what a poll reads while a job
  waits), against GET of the same bytes from one Redis key;
- Redis bytes per stored interaction (used_memory over 10,000 posted rows).

Load comes from wrk (Debian's package) when it is installed, else from Python threads with
keep-alive connections (--python forces it). Each round runs every figure A then B; the
ratio A / B is taken per round and its median, min and max printed.

    .venv/bin/python tests/benchmarks/bench_gateway.py [--rounds 3] [--seconds 4]
        [--worker-class gevent|sync|gthread] [--workers 2] [--python]
"""

import argparse
import http.client
import json
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchsupport import redis_used, run_job
from datagen import generate
from tuneloop_cli.client import Api, Config
from tuneloop_devstack.procs import Proc, free_port, wait_for
from tuneloop_devstack.stack import GUNICORN, Stack

from tuneloop.celery_config import PIPELINE_QUEUE
from tuneloop.schemas.jobs import JobInSchema

HERE = Path(__file__).resolve().parent
BATCH, SIZE_ROWS = 1000, 10_000
ITEM = {
    "input": "Can you help me with my invoice? I was charged twice this month.",
    "output": "For billing, here is what helps with invoice: start simple, then refund.",
    "rating": 0.9,
    "task_type": "billing",
    "metadata": {"channel": "web"},
}
WRK_SCRIPT = """
wrk.method = "{method}"
wrk.headers["Authorization"] = "Bearer {key}"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb")
if f then wrk.body = f:read("*a"); f:close() end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH {{\\"requests\\": %d, \\"us\\": %d, \\"bad\\": %d, \\"socket\\": %d, " ..
    "\\"p50\\": %d, \\"p99\\": %d}}\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Run:
    """One load run against one server: throughput and latency."""

    rate: float  # requests per second
    p50_ms: float
    p99_ms: float


@dataclass
class Target:
    """What one figure sends to one server."""

    port: int
    method: str
    path: str
    body: bytes = b""
    per_request: int = 1  # records per request (for the batch)


class Load:
    """Drive a target for some seconds with wrk, or with Python threads."""

    def __init__(self, key: str, seconds: float, connections: int, use_wrk: bool) -> None:
        self.key, self.seconds, self.connections = key, seconds, connections
        self.use_wrk = use_wrk
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))

    def run(self, target: Target) -> Run:
        """Return the throughput and latencies of one run."""
        return self._wrk(target) if self.use_wrk else self._threads(target)

    def _wrk(self, target: Target) -> Run:
        body = self.tmp / f"body-{len(target.body)}.json"
        body.write_bytes(target.body)
        script = self.tmp / "script.lua"
        script.write_text(
            WRK_SCRIPT.format(method=target.method, key=self.key, body=body if target.body else "")
        )
        argv = ["wrk", "-t2", f"-c{self.connections}", f"-d{self.seconds:g}s", "--timeout", "10s"]
        argv += ["-s", str(script), f"http://127.0.0.1:{target.port}{target.path}"]

        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        found = re.search(r"^BENCH (\{.*\})$", out, re.M)
        if found is None:
            sys.exit(f"wrk printed no summary:\n{out}")
        result = json.loads(found.group(1))
        if result["bad"] or result["socket"]:
            sys.exit(f"{target.method} {target.path}: {result} (errors)\n{out}")
        rate = result["requests"] / (result["us"] / 1e6)
        return Run(rate, result["p50"] / 1000, result["p99"] / 1000)

    def _threads(self, target: Target) -> Run:
        latencies: list[float] = []
        errors: list[str] = []
        deadline = time.perf_counter() + self.seconds
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
            mine = []
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                conn.request(target.method, target.path, target.body or None, headers)
                response = conn.getresponse()
                response.read()
                mine.append(time.perf_counter() - start)
                if response.status >= 400:
                    errors.append(f"{response.status}")
                    break
            conn.close()
            latencies.extend(mine)

        began = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(self.connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
        if errors:
            sys.exit(f"{target.method} {target.path}: answers {sorted(set(errors))}")
        latencies.sort()
        pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
        return Run(len(latencies) / elapsed, pick(0.5), pick(0.99))


def start_bare(stack: Stack, gunicorn_args: list[str]) -> int:
    """Start the bare app under gunicorn with the gateway's settings module; return its port."""
    port = free_port()
    argv = [sys.executable, *GUNICORN, "--bind", f"127.0.0.1:{port}", *gunicorn_args]
    argv += ["--pythonpath", str(HERE), "bare_app:create_app()"]
    env = stack.env(TUNELOOP_METRICS_PORT="0")
    proc = Proc("bare", argv, stack.workdir / "bare.log", env)
    stack.procs.append(proc)
    wait_for(lambda: _answers_200_any(port), 60, "the bare app to answer", [proc], 0.1)
    return port


def fetch(port: int, path: str, key: str = "") -> tuple[int, bytes]:
    """GET path from the server on port (with the bearer key when given): status and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _answers_200_any(port: int) -> bool:
    """Whether the bare app answers (a 404 for an unknown job is an answer)."""
    try:
        return fetch(port, "/v1/jobs/none")[0] == 404
    except OSError:
        return False


def finished_job(stack: Stack, client: Api) -> tuple[str, bytes]:
    """Run a small job to the end (then stop the worker); return its id and GET body."""
    stack.start_worker("worker", concurrency=1, queues=PIPELINE_QUEUE)
    rows = generate(20, seed=7, n_tasks=10)
    for i in range(0, len(rows), 100):
        client.post("/v1/interactions/batch", {"items": rows[i : i + 100]})
    request = {"include_synthetic": True, "lab_eval_set": True, "hyperparameters": {"n_epochs": 3}}
    job, _ = run_job(client, request, timeout=300)
    stack.remove("worker")
    return job["id"], fetch(stack.port, f"/v1/jobs/{job['id']}", client.config.api_key)[1]


def queued_job(stack: Stack, client: Api) -> tuple[str, bytes]:
    """Store a job that stays queued (no worker is sent it): what a poll reads while it waits."""
    request = JobInSchema().load({"hyperparameters": {"n_epochs": 3}})
    job_id = stack.store.jobs.create(request, snapshot_seq=0, total_steps=7)["id"]
    return job_id, fetch(stack.port, f"/v1/jobs/{job_id}", client.config.api_key)[1]


def bytes_per_interaction(stack: Stack, client: Api) -> float:
    """Return Redis used_memory growth per interaction over SIZE_ROWS posted rows."""
    rows = generate(SIZE_ROWS // 20, seed=11, n_tasks=20)
    before = redis_used(stack)
    for i in range(0, len(rows), BATCH):
        client.post("/v1/interactions/batch", {"items": rows[i : i + BATCH]})
    return (redis_used(stack) - before) / len(rows)


def summary(name: str, a: list[Run], b: list[Run], unit: str, scale: int, goal: float) -> str:
    """One figure's line: A and B medians (min-max), the ratio's median (min-max), p50/p99."""

    def med(runs: list[Run], attr: str, k: float = 1.0) -> str:
        values = [getattr(r, attr) * k for r in runs]
        return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"

    ratios = [x.rate / y.rate for x, y in zip(a, b, strict=True)]
    p50 = [x.p50_ms / y.p50_ms for x, y in zip(a, b, strict=True)]

    def side(label: str, runs: list[Run]) -> str:
        p50_ms = statistics.median(r.p50_ms for r in runs)
        p99_ms = statistics.median(r.p99_ms for r in runs)
        return (
            f"  {label} {med(runs, 'rate', scale)} {unit}; p50 {p50_ms:.1f} ms, p99 {p99_ms:.1f} ms"
        )

    lines = [
        name,
        side("tuneloop", a),
        side("bare    ", b),
        f"  tuneloop / bare {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}),"
        f" goal >= {goal}; p50 latency x{statistics.median(p50):.2f}",
    ]
    return "\n".join(lines)


def main() -> None:
    """Start both servers on one Redis, run the rounds and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--worker-class", default="", help="override gunicorn_conf's class")
    parser.add_argument("--workers", type=int, default=0, help="override gunicorn_conf's count")
    parser.add_argument("--python", action="store_true", help="Python load even if wrk exists")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None and not args.python
    gunicorn_args = ["--worker-class", args.worker_class] if args.worker_class else []
    gunicorn_args += ["--workers", str(args.workers)] if args.workers else []
    started = time.perf_counter()
    key = secrets.token_urlsafe(24)
    stack = Stack(api_key=secrets.token_urlsafe(16), gunicorn_args=tuple(gunicorn_args))
    cleanup: list[Path] = [stack.workdir]
    try:
        stack.start_redis()
        env = {
            "TUNELOOP_API_KEYS": f"bench:{key}:ingest+jobs",
            "TUNELOOP_RATE_LIMIT": "10000000/minute",
        }
        stack.start_gateway(port=free_port(), env=env)
        bare = start_bare(stack, gunicorn_args)
        client = Api(Config(stack.base_url, key))
        job_id, job_body = finished_job(stack, client)
        stack.probe().set(f"bare:job:{job_id}", job_body)
        queued_id, queued_body = queued_job(stack, client)
        stack.probe().set(f"bare:job:{queued_id}", queued_body)
        per_row = bytes_per_interaction(stack, client)
        one = json.dumps(ITEM).encode()
        batch = json.dumps({"items": [ITEM] * BATCH}).encode()
        figures = {
            "POST /v1/interactions (one item), requests/s": (
                Target(stack.port, "POST", "/v1/interactions", one),
                Target(bare, "POST", "/v1/interactions", one),
                "req/s",
                1,
                0.8,
            ),
            f"POST /v1/interactions/batch ({BATCH:,} items) vs pipelined SETs, records/s": (
                Target(stack.port, "POST", "/v1/interactions/batch", batch),
                Target(bare, "POST", "/v1/interactions/batch", batch),
                "records/s",
                BATCH,
                0.5,
            ),
            f"GET /v1/jobs/{{id}} of a finished job ({len(job_body):,} bytes), requests/s": (
                Target(stack.port, "GET", f"/v1/jobs/{job_id}"),
                Target(bare, "GET", f"/v1/jobs/{job_id}"),
                "req/s",
                1,
                0.8,
            ),
            f"GET /v1/jobs/{{id}} of a queued job ({len(queued_body):,} bytes), requests/s": (
                Target(stack.port, "GET", f"/v1/jobs/{queued_id}"),
                Target(bare, "GET", f"/v1/jobs/{queued_id}"),
                "req/s",
                1,
                0.8,
            ),
        }
        load = Load(key, args.seconds, args.connections, use_wrk)
        cleanup.append(load.tmp)
        results = {name: ([], []) for name in figures}
        for _ in range(args.rounds):
            for name, (a, b, *_rest) in figures.items():
                results[name][0].append(load.run(a))
                results[name][1].append(load.run(b))
        worker = args.worker_class or "gunicorn_conf's"
        print(
            f"Gateway vs bare, {args.rounds} rounds interleaved, {args.seconds:g} s each, "
            f"{args.connections} connections, load from {'wrk' if use_wrk else 'Python threads'}, "
            f"worker class {worker}, workers {args.workers or 'gunicorn_conf'}"
        )
        for name, (_a, _b, unit, scale, goal) in figures.items():
            print(summary(name, *results[name], unit, scale, goal))
        print(f"Redis bytes per stored interaction: {per_row:,.0f} (over {SIZE_ROWS:,} rows)")
        print(f"whole run {time.perf_counter() - started:.0f} s")
    finally:
        stack.stop()
        for path in cleanup:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
