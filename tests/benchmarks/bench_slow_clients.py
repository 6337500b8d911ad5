"""GET /healthz for a normal client while 200 slow clients send their headers a byte at a time.

Two gateways on one private redis-server: the old configuration (gunicorn sync workers, 2 of
them, its defaults) and the new one (tuneloop_gateway.gunicorn_conf: gevent workers). Rounds
run A, B, A, B ...: in each, SLOW connections send a header byte every TICK seconds (and
reconnect when the server closes them, as an attacker would) while a probe starts every
PROBE_EVERY seconds, each on a new connection with a PROBE_TIMEOUT (a probe that times out
counts as PROBE_TIMEOUT). Cost: the old configuration serves one connection per worker, so a
probe waits behind every slow connection queued before it (seconds to a timeout, whatever
SLOW is above the worker count); the new one serves up to worker_connections per worker, so
the probe's latency does not grow with SLOW until SLOW passes workers x worker_connections.

    .venv/bin/python tests/benchmarks/bench_slow_clients.py [--rounds 3] [--gthread]
"""

import argparse
import http.client
import os
import re
import secrets
import shutil
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import mkdtemp

from tuneloop_devstack.procs import Proc, free_port, wait_for

SLOW, TICK, ROUND = 200, 0.5, 15.0
PROBE_EVERY, PROBE_TIMEOUT = 0.25, 10.0
APP = "tuneloop_gateway.app:create_app()"
GUNICORN = [sys.executable, "-m", "gunicorn", "--no-control-socket"]
CONFIGS = {
    "old (sync, 2 workers)": [*GUNICORN, "--workers", "2"],
    "new (gunicorn_conf)": [*GUNICORN, "-c", "python:tuneloop_gateway.gunicorn_conf"],
}
GTHREAD = {"gthread (2 x 50 threads)": [*GUNICORN, "--workers", "2", "--threads", "50"]}


class SlowClients:
    """Keep n connections open, each sending one more header byte every TICK seconds."""

    def __init__(self, port: int, n: int) -> None:
        self.port, self.n = port, n
        self.socks: list[socket.socket | None] = [None] * n
        self.cut = 0  # connections the server closed (each is opened again)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Slow: ")
            sock.setblocking(False)
            return sock
        except OSError:
            return None

    def _send_byte(self, i: int) -> None:
        sock = self.socks[i]
        if sock is not None:
            try:
                sock.send(b"a")
                return
            except BlockingIOError:
                return
            except OSError:
                sock.close()
                self.cut += 1
        self.socks[i] = self._open()

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            for i in range(self.n):
                self._send_byte(i)

    def __enter__(self) -> "SlowClients":
        self.socks = [self._open() for _ in range(self.n)]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self.socks:
            if sock is not None:
                sock.close()


def probe(port: int) -> float:
    """GET /healthz on a new connection; return the seconds it took (PROBE_TIMEOUT if none)."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
    try:
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
    except OSError:
        ok = False
    finally:
        conn.close()
    return time.perf_counter() - start if ok else PROBE_TIMEOUT


def probes_during(port: int, seconds: float) -> list[float]:
    """Start a probe every PROBE_EVERY seconds for seconds; return every probe's latency."""
    results: list[float] = []
    threads = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = threading.Thread(target=lambda: results.append(probe(port)), daemon=True)
        t.start()
        threads.append(t)
        time.sleep(PROBE_EVERY)
    for t in threads:
        t.join(PROBE_TIMEOUT + 5)
    return results


def quantile(values: list[float], q: float) -> float:
    """The q-quantile of values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_round(port: int) -> dict[str, float]:
    """Measure the probes during SLOW slow connections; wait until the gateway is fast again."""
    with SlowClients(port, SLOW) as slow:
        latencies = probes_during(port, ROUND)
    wait_for(lambda: probe(port) < 0.5, 120, "the gateway to answer fast again", [])
    timeouts = sum(x >= PROBE_TIMEOUT for x in latencies)
    return {
        "p50": quantile(latencies, 0.5),
        "p99": quantile(latencies, 0.99),
        "max": max(latencies),
        "timeouts": timeouts,
        "probes": len(latencies),
        "cut": slow.cut,
    }


def start_gateway(name: str, argv: list[str], workdir: Path, env: dict) -> tuple[Proc, int]:
    """Start one gateway on a free port; wait until /healthz answers."""
    port = free_port()
    log = workdir / ("gateway-" + re.sub(r"\W+", "-", name) + ".log")
    proc = Proc(name, [*argv, "--bind", f"127.0.0.1:{port}", APP], log, env)
    wait_for(lambda: probe(port) < PROBE_TIMEOUT, 60, f"gateway {name}", [proc])
    return proc, port


def log_text(proc: Proc) -> str:
    """The whole log of a process."""
    return proc.log.read_text(errors="replace")


def spread(values: list[float]) -> str:
    """Median (min..max) in seconds."""
    return (
        f"median {statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f})"
    )


def report(results: dict[str, list[dict[str, float]]], killed: Callable[[str], int]) -> None:
    """Print each configuration's figures and the ratios old / new."""
    print(f"\n{SLOW} slow clients (a header byte every {TICK:g} s), {ROUND:g} s per round,")
    print(f"a /healthz probe every {PROBE_EVERY:g} s (one timed out counts {PROBE_TIMEOUT:g} s)")
    for name, rounds in results.items():
        print(f"\n{name}: {len(rounds)} rounds, worker timeouts in the log: {killed(name)}")
        for key in ("p50", "p99", "max"):
            print(f"  {key}: {spread([r[key] for r in rounds])}")
        timeouts = sum(int(r["timeouts"]) for r in rounds)
        probes = sum(int(r["probes"]) for r in rounds)
        cut = [int(r["cut"]) for r in rounds]
        print(f"  probes timed out: {timeouts} of {probes}; slow connections cut per round: {cut}")
    (old, *_), new = list(results), "new (gunicorn_conf)"
    for key in ("p50", "p99", "max"):
        a = statistics.median(r[key] for r in results[old])
        b = statistics.median(r[key] for r in results[new])
        at_least = "at least " if a >= PROBE_TIMEOUT else ""  # old probes timed out
        print(f"ratio old / new, median {key}: {at_least}{a / b:.0f}x")


def run_rounds(gateways: dict[str, int], rounds: int) -> dict[str, list[dict[str, float]]]:
    """Measure each gateway once per round, in the same order every round."""
    results: dict[str, list[dict[str, float]]] = {name: [] for name in gateways}
    for i in range(rounds):
        for name, port in gateways.items():
            r = one_round(port)
            results[name].append(r)
            print(
                f"round {i + 1} {name}: p50 {r['p50']:.3f} s, p99 {r['p99']:.3f} s, "
                f"max {r['max']:.3f} s, {r['timeouts']:.0f}/{r['probes']:.0f} timed out",
                flush=True,
            )
    return results


def main() -> None:
    """Start redis-server and one gateway per configuration; run the rounds; print figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gthread", action="store_true", help="also measure gthread workers")
    args = parser.parse_args()
    configs = {**CONFIGS, **(GTHREAD if args.gthread else {})}
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        sys.exit("redis-server was not found on PATH")
    workdir = Path(mkdtemp(prefix="tuneloop-bench-slow-"))
    procs: dict[str, Proc] = {}
    try:
        redis_port = free_port()
        argv = [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
        procs["redis"] = Proc("redis", argv, workdir / "redis.log")
        env = {
            **os.environ,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "TUNELOOP_API_KEY": secrets.token_urlsafe(16),
        }
        ports = {}
        for name, argv in configs.items():
            procs[name], ports[name] = start_gateway(name, argv, workdir, env)
        results = run_rounds(ports, args.rounds)
        report(results, lambda name: log_text(procs[name]).count("WORKER TIMEOUT"))
    finally:
        for proc in reversed(procs.values()):
            proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
