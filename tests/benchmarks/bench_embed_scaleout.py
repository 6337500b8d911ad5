"""Encoding throughput of the embed stage on 1, 2 and 3 worker containers of one CPU each.

Brings the compose stack up (redis, gateway, workers, responder) with an override file this
script writes: every worker container is limited to one CPU (`cpus: 1`), runs Celery with
concurrency 1 and encodes with one thread (TUNELOOP_ENCODER_THREADS=1). Banking77's rows
(`../shared/data/banking77`, CC BY 4.0) are posted once through the API. Then, round after
round, for each worker count (the order rotates from round to round, so a shared machine's
drift spreads over every count):

1. scale the workers (`up -d --no-recreate --scale worker=N`) and wait until each answers a ping;
2. empty the embedding cache (its keys only: the jobs, rows and Celery's bindings stay);
3. post a job with "model": "tuneloop-e5-small" and read its `embed:plan` and `embed:summary`
   events through GET /v1/jobs/{id}/events (the summary's texts/s is encoded texts over the
   seconds from the first part's start to the last part's end), then cancel the job.

Prints texts/s per worker count (median, min, max) and the ratios 2/1 and 3/1: of the medians,
and the min and max of each round's own ratio. The issue's goal is x1.7 or better from one
worker container to two. A host with fewer cores than workers cannot give each its core.

    python tests/benchmarks/bench_embed_scaleout.py [--rounds 3] [--rows 2000] [--cases 500]
        [--counts 1,2,3] [--part-size 128] [--compose-only]

--compose-only checks the harness alone (no job): up, each worker's limits, scale 1 -> 2 -> 3
-> 1, down. A dockerd is started (and stopped at the end) when no engine answers; base images
are built from Debian's packages when none can be pulled (tests/compose/engine.py).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compose"))
from compose_check import Api, CheckError, free_port, intents, wait_for
from engine import REPO, Engine, copy_build_ca, images

PROJECT = "tuneloopbench"
MODEL = "tuneloop-e5-small"
EMBEDDING_KEYS = "tuneloop:emb:*"  # tuneloop.store.keys: every cached vector and their index
ENDED = ("succeeded", "failed", "cancelled")
# A container's own CPU time in nanoseconds: cgroup v1's cpuacct, else cgroup v2's cpu.stat.
CPU_USAGE = (
    "cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null"
    " || awk '/^usage_usec/ {printf \"%d\\n\", $2 * 1000}' /sys/fs/cgroup/cpu.stat"
)
OVERRIDE = """\
# Written by tests/benchmarks/bench_embed_scaleout.py: one CPU, one process, one thread.
services:
  worker:
    cpus: 1
    command:
      - python
      - -m
      - tuneloop_worker
      - --queues=tuneloop.pipeline
      - --concurrency=1
    environment:
      TUNELOOP_ENCODER_THREADS: "1"
{part_size}"""


class Compose:
    """docker-compose on the repository's file plus the override, under this bench's project."""

    def __init__(self, env: dict[str, str], override: Path) -> None:
        self.env, self.override = env, override

    def __call__(self, *args: str, capture: bool = False, timeout: float = 900) -> str:
        """Run docker-compose with args; return its output when captured; CheckError if it fails."""
        cmd = ["docker-compose", "-p", PROJECT, "-f", str(REPO / "docker-compose.yml")]
        cmd += ["-f", str(self.override), *args]
        try:
            done = subprocess.run(
                cmd, cwd=REPO, env=self.env, text=True, capture_output=capture, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise CheckError(
                f"docker-compose {' '.join(args)}: killed after {timeout:g}s"
            ) from None
        if done.returncode != 0:
            output = f":\n{done.stdout}{done.stderr}" if capture else " (output above)"
            raise CheckError(f"docker-compose {' '.join(args)} failed{output}")
        return done.stdout if capture else ""

    def workers(self) -> list[str]:
        """Return the ids of the running worker containers."""
        return self("ps", "-q", "worker", capture=True).split()


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a docker command; return it finished."""
    return subprocess.run(["docker", *args], text=True, capture_output=True, timeout=120)


def limits(container: str) -> dict:
    """Return a worker container's CPU limit, Celery concurrency and encoder threads."""
    found = json.loads(docker("inspect", container).stdout)[0]
    env = dict(e.split("=", 1) for e in found["Config"]["Env"])
    args = found["Config"]["Cmd"] or []
    return {
        "cpus": found["HostConfig"]["NanoCpus"] / 1e9,
        "concurrency": next(
            (a.split("=", 1)[1] for a in args if a.startswith("--concurrency=")), None
        ),
        "threads": env.get("TUNELOOP_ENCODER_THREADS"),
    }


def scale(compose: Compose, n: int) -> float:
    """Scale the workers to n, each answering a ping and limited as asked; return the seconds."""
    began = time.monotonic()
    compose("up", "-d", "--no-recreate", "--scale", f"worker={n}")
    wait_for(f"{n} worker containers", lambda: len(compose.workers()) == n, 60)
    for container in compose.workers():
        wait_for(
            f"worker {container[:12]} to answer a ping",
            lambda c=container: (
                docker("exec", c, "python", "-m", "tuneloop_worker.ping").returncode == 0
            ),
            120,
            every=1,
        )
        got = limits(container)
        if got != {"cpus": 1.0, "concurrency": "1", "threads": "1"}:
            raise CheckError(f"worker {container[:12]} is not limited as asked: {got}")
    return time.monotonic() - began


def empty_cache(compose: Compose) -> None:
    """Delete every cached embedding (and the cache's index); CheckError if any is left."""
    script = (
        f"redis-cli --scan --pattern '{EMBEDDING_KEYS}' | xargs -r -n 1000 redis-cli unlink"
        f" > /dev/null; redis-cli --scan --pattern '{EMBEDDING_KEYS}' | wc -l"
    )
    left = compose("exec", "-T", "redis", "sh", "-c", script, capture=True).strip()
    if left != "0":
        raise CheckError(f"{left} embedding keys left after emptying the cache")


def events(api: Api, job_id: str) -> list[dict]:
    """Return all of a job's events, oldest first."""
    out, after = [], None
    while True:
        page = api.call(
            "GET", f"/v1/jobs/{job_id}/events?limit=1000" + (f"&after={after}" if after else "")
        )
        out += page["data"]
        if not page["has_more"]:
            return out
        after = page["data"][-1]["id"]


def embed_event(found: list[dict], kind: str) -> dict | None:
    """Return the embed stage's plan or summary event (by the fields its data carries)."""
    wanted = {"plan": {"to_encode", "parts"}, "summary": {"texts_per_s", "encoded", "seconds"}}
    return next((e for e in found if wanted[kind] <= set(e.get("data") or {})), None)


def cancel(api: Api, job_id: str) -> None:
    """Cancel a job unless it has ended (409)."""
    try:
        api.call("POST", f"/v1/jobs/{job_id}/cancel")
    except urllib.error.HTTPError as exc:
        if exc.code != 409:
            raise


def cpu_seconds(compose: Compose) -> float:
    """Return the CPU seconds the running worker containers have used (their cgroups)."""
    total = 0
    for container in compose.workers():
        done = docker("exec", container, "sh", "-c", CPU_USAGE)
        if done.returncode != 0 or not done.stdout.strip().isdigit():
            raise CheckError(f"no CPU usage from worker {container[:12]}: {done.stderr}")
        total += int(done.stdout.strip())
    return total / 1e9


def one_run(api: Api, compose: Compose, n: int, cases: list[dict], timeout: float) -> dict:
    """Run one job's embed stage on n workers with an empty cache; return its figures."""
    ready = scale(compose, n)
    empty_cache(compose)
    body = {"model": MODEL, "include_synthetic": False, "eval_set": cases}
    load, cpu_before, began = os.getloadavg()[0], cpu_seconds(compose), time.monotonic()
    job_id = api.call("POST", "/v1/jobs", body)["id"]
    box: dict = {}

    def summarised() -> bool:
        box["events"] = events(api, job_id)
        if embed_event(box["events"], "summary"):
            return True
        job = api.call("GET", f"/v1/jobs/{job_id}")
        if job["status"] in ENDED:
            raise CheckError(
                f"job {job_id} ended ({job['status']}, {job.get('error')}) with no embed:summary"
                " event: is the embed stage in this build? Its last events: "
                + " | ".join(e["message"] for e in box["events"][-6:])
            )
        return False

    try:
        wait_for(f"job {job_id}'s embed:summary", summarised, timeout, every=0.5)
        cpu, wall = cpu_seconds(compose) - cpu_before, time.monotonic() - began
    finally:
        cancel(api, job_id)
        wait_for(
            f"job {job_id} to end",
            lambda: api.call("GET", f"/v1/jobs/{job_id}")["status"] in ENDED,
            120,
        )
    plan, summary = embed_event(box["events"], "plan"), embed_event(box["events"], "summary")
    data = summary["data"]
    if data["cached"] or (plan and data["encoded"] != plan["data"]["to_encode"]):
        print(f"   warning: job {job_id} found {data['cached']} texts cached", file=sys.stderr)
    return {
        "workers": n,
        "job": job_id,
        "texts_per_s": data["texts_per_s"] or 0.0,
        "encoded": data["encoded"],
        "seconds": data["seconds"],
        "parts": data["parts"],
        "hosts": len(data.get("hosts") or []),
        "plan_to_summary": summary["created_at"] - plan["created_at"] if plan else None,
        "scale_seconds": round(ready, 1),
        # From the POST to the summary (collect, filter and prepare too): the workers' CPU
        # seconds, their share of the CPUs they were given, and the host's load before.
        "texts_per_cpu_s": round(data["encoded"] / cpu, 1) if cpu > 0 else None,
        "cpu_share": round(cpu / (n * wall), 2),
        "host_load": round(load, 2),
    }


def spread(values: Sequence[float]) -> str:
    """Format median (min..max)."""
    med, low, high = statistics.median(values), min(values), max(values)
    return f"median {med:.2f} (min {low:.2f}, max {high:.2f})"


def report(runs: list[dict], counts: list[int]) -> None:
    """Print texts/s per worker count and the ratios to one worker."""
    rates = {n: [r["texts_per_s"] for r in runs if r["workers"] == n] for n in counts}
    print("\nencoding throughput (texts/s), one CPU per worker container:")
    for n in counts:
        print(f"  {n} worker(s): {spread(rates[n])}  runs: {rates[n]}")
    per_cpu = [r["texts_per_cpu_s"] for r in runs if r["texts_per_cpu_s"]]
    if per_cpu:
        print(f"  texts per worker CPU-second: {spread(per_cpu)}")
    for n in counts:
        shares = [r["cpu_share"] for r in runs if r["workers"] == n]
        print(f"  {n} worker(s): share of their CPUs obtained {spread(shares)}")
    if min(r["cpu_share"] for r in runs) < 0.8:
        print(
            "  warning: some workers got under 80% of their CPU (host load before the runs:"
            f" {sorted(r['host_load'] for r in runs)}): the ratios measure a busy host."
        )
    if 1 not in counts:
        return
    by_round: dict[int, dict[int, float]] = {}
    for r in runs:
        by_round.setdefault(r["round"], {})[r["workers"]] = r["texts_per_s"]
    for n in (c for c in counts if c != 1):
        paired = [rs[n] / rs[1] for rs in by_round.values() if rs.get(1) and n in rs]
        medians = statistics.median(rates[n]) / statistics.median(rates[1])
        within = f"per round min {min(paired):.2f}, max {max(paired):.2f}" if paired else ""
        print(f"  ratio {n}/1: x{medians:.2f} of the medians ({within})")
    if (os.cpu_count() or 1) < max(counts):
        print(
            f"  note: this host has {os.cpu_count()} cores for {max(counts)} one-CPU workers:"
            " beyond its cores, workers share them."
        )


def harness_only(compose: Compose) -> None:
    """Check the compose bits alone: every worker count scales, answers and is limited."""
    for n in (1, 2, 3, 1):
        seconds = scale(compose, n)
        print(f"== scale to {n}: {seconds:.1f}s; each worker: cpus 1, concurrency 1, threads 1")


def clean_up(compose: Compose, failed: bool) -> None:
    """Show a failed run's last logs, then remove the bench's containers and volumes."""
    try:
        if failed:
            print(compose("logs", "--no-color", "--tail=30", capture=True), file=sys.stderr)
        compose("down", "-v", "--remove-orphans", capture=True, timeout=300)
    except CheckError as exc:
        print(f"clean-up: {exc}", file=sys.stderr)


def main(argv: list[str]) -> int:
    """Bring the stack up, run the rounds, print the figures, take it down; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2000, help="Banking77 training rows posted")
    parser.add_argument("--cases", type=int, default=500, help="test rows given as eval_set")
    parser.add_argument("--counts", default="1,2,3", help="worker counts, comma-separated")
    parser.add_argument("--part-size", type=int, default=128, help="TUNELOOP_EMBED_PART_SIZE")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per job's embed")
    parser.add_argument("--compose-only", action="store_true", help="check the harness alone")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    engine, key = Engine(), secrets.token_hex(16)
    port = free_port()
    override = Path(tempfile.mkdtemp(prefix="tuneloop-bench-")) / "docker-compose.bench.yml"
    part = f'      TUNELOOP_EMBED_PART_SIZE: "{args.part_size}"\n' if args.part_size else ""
    override.write_text(OVERRIDE.format(part_size=part))
    copies: list[Path] = []
    compose: Compose | None = None
    failed = ""
    try:
        engine.ensure()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TUNELOOP_", "REDIS_"))},
            **images(),
            "REDIS_PASSWORD": secrets.token_hex(16),
            "TUNELOOP_API_KEY": key,
            "PORT": str(port),
            "WORKER_CONCURRENCY": "1",
            "LOG_LEVEL": "WARNING",
        }
        compose, copies = Compose(env, override), copy_build_ca()
        began = time.monotonic()
        compose("up", "-d", "--build", "--scale", "worker=1", capture=True, timeout=1800)
        print(f"== up --build: {time.monotonic() - began:.1f}s (override {override})")
        api = Api(port, key)
        wait_for("/readyz", api.ready, 180)
        if args.compose_only:
            harness_only(compose)
            return 0
        rows, cases, label = intents()
        rows, cases = rows[: args.rows], cases[: args.cases]
        for i in range(0, len(rows), 1000):
            api.call("POST", "/v1/interactions/batch", {"items": rows[i : i + 1000]})
        print(f"== posted {len(rows)} rows of {label.split(' (')[0]}; {len(cases)} eval cases")
        runs = []
        for round_ in range(args.rounds):
            order = counts[round_ % len(counts) :] + counts[: round_ % len(counts)]
            for n in order:
                run = {**one_run(api, compose, n, cases, args.timeout), "round": round_}
                runs.append(run)
                print(f"   round {round_ + 1}, {n} worker(s): {json.dumps(run)}", flush=True)
        report(runs, counts)
    except (CheckError, RuntimeError, urllib.error.URLError) as exc:
        failed = str(exc)
    finally:
        if compose is not None:
            clean_up(compose, bool(failed))
        for copy in copies:
            copy.unlink(missing_ok=True)
        engine.stop()
    if failed:
        print(f"BENCH FAILED: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
