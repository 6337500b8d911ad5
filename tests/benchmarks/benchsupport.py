"""What the benchmarks share: a stack, posting rows, waiting for a job, process and Redis sizes."""

import secrets
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from redis import Redis
from tuneloop_cli.client import Api, Config
from tuneloop_devstack.procs import free_port
from tuneloop_devstack.stack import Stack

BATCH = 1000


def start_stack(workers: int = 1) -> tuple[Stack, Api]:
    """Start a private redis-server, the workers and the gateway."""
    stack = Stack(api_key=secrets.token_urlsafe(16), port=free_port(), workers=workers)
    stack.start()
    return stack, Api(Config(stack.base_url, stack.api_key))


def post_rows(client: Api, rows: Sequence[dict]) -> float:
    """POST rows in batches of 1,000; return the seconds it took."""
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        client.post("/v1/interactions/batch", {"items": list(rows[i : i + BATCH])})
    return time.perf_counter() - start


def run_job(
    client: Api, request: dict, timeout: float = 3600, every: Callable[[], None] | None = None
) -> tuple[dict, float]:
    """POST a job and poll it to the end; return the job and POST -> succeeded seconds."""
    start = time.perf_counter()
    job = client.post("/v1/jobs", request)
    while time.perf_counter() - start < timeout:
        job = client.get(f"/v1/jobs/{job['id']}")
        if every:
            every()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            if job["status"] != "succeeded":
                sys.exit(f"job {job['id']} ended {job['status']}: {job['error']}")
            return job, time.perf_counter() - start
        time.sleep(0.2)
    sys.exit(f"job {job['id']} did not finish in {timeout}s")


def wait_processed(client: Api, file_id: str, timeout: float = 600) -> dict:
    """Poll an uploaded file until a worker has checked it; exit unless it was processed."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        record = client.get(f"/v1/files/{file_id}")
        if record["status"] == "processed":
            return record
        if record["status"] == "error":
            sys.exit(f"file {file_id} was refused: {record['status_details']}")
        time.sleep(0.05)
    sys.exit(f"file {file_id} was not checked in {timeout}s")


def events(client: Api, job_id: str) -> list[dict]:
    """Return every event of a job."""
    out, after = [], None
    while True:
        query = f"?limit=1000&after={after}" if after else "?limit=1000"
        page = client.get(f"/v1/jobs/{job_id}/events{query}")
        out += page["data"]
        if not page["has_more"]:
            return out
        after = page["data"][-1]["id"]


def stage_seconds(job_events: list[dict]) -> dict[str, float]:
    """Return each stage's wall time as its finished event recorded it."""
    return {
        e["data"]["stage"]: e["data"]["seconds"]
        for e in job_events
        if e["type"] == "stage.finished"
    }


def fine_tune_summary(job_events: list[dict]) -> dict:
    """Return the data of the fine_tune summary event."""
    return next(e["data"] for e in job_events if e["message"].startswith("trained "))


def peak_rss_bytes(root_pid: int) -> int:
    """Return the largest peak RSS (VmHWM) among a process and all its descendants."""
    peak, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) * 1024)
        todo += [int(c) for c in children]
    return peak


def worker_pid(stack: Stack) -> int:
    """Return the pid of the pipeline worker's main process."""
    return next(p.popen.pid for p in stack.procs if p.name == "worker")


def redis_used(stack: Stack) -> int:
    """Return Redis's used_memory in bytes."""
    return int(Redis.from_url(stack.redis_url).info("memory")["used_memory"])


def spread(values: Sequence[float], unit: str = "s", scale: float = 1.0) -> str:
    """Format median (min..max) of values."""
    med = statistics.median(values) * scale
    return f"median {med:.2f}{unit} (min {min(values) * scale:.2f}, max {max(values) * scale:.2f})"


def mib(n: float) -> str:
    """Format bytes as MiB."""
    return f"{n / 2**20:.1f} MiB"
