"""The gateway's latency while two maximum-size files are uploaded at once, interleaved A/B.

One stack as `make run` starts it (a private redis-server, the pipeline worker and the
responder, the gunicorn gateway with tuneloop_gateway.gunicorn_conf: gevent workers). A
valid chat-format JSONL file is made as large as TUNELOOP_MAX_BODY_BYTES lets a multipart
body be (64 MiB by default, about 250,000 short conversations). Rounds run A, B, A, B ...:

- A (quiet): probes only, for QUIET seconds;
- B (uploads): two clients POST /v1/files with that file at the same time, and the probes
  run from the first byte sent until both files have left `uploaded` (processed or error),
  read from Redis, so the window holds the upload and the check wherever the check runs.

A probe starts every PROBE_EVERY seconds on a new connection, whether or not the ones
before it answered: GET /healthz and POST /v1/interactions (one interaction, the admin key,
so no rate limit). Each round prints p50, p99 and max of each, and the summary prints their
medians (min, max) over the rounds and the ratio B / A of p99 per round. Cost: the uploads
send 2 x 64 MiB a round; the probes' count grows with the window's length.

    .venv/bin/python tests/benchmarks/bench_upload_loop.py [--rounds 3] [--quiet 8]
"""

import argparse
import http.client
import json
import os
import statistics
import threading
import time

from benchsupport import start_stack
from datagen import generate
from tuneloop_devstack.stack import Stack

from tuneloop.settings import Settings

PROBE_EVERY, PROBE_TIMEOUT = 0.05, 120.0
UPLOAD_TIMEOUT, PROCESS_TIMEOUT = 600.0, 600.0
BOUNDARY = "bench-upload-loop-boundary"
ONE = json.dumps(
    {
        "input": "Can you help me with my invoice? I was charged twice this month.",
        "output": "For billing, here is what helps with invoice: start simple, then refund.",
        "rating": 0.9,
        "task_type": "billing",
    }
).encode()


def chat_file(max_body: int) -> bytes:
    """A valid chat JSONL file whose multipart body fits in max_body bytes."""
    room = max_body - 1024  # the multipart headers and boundaries
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": r["input"]},
                    {"role": "assistant", "content": r["output"]},
                ],
                "rating": r["rating"],
                "metadata": {"task_type": r["task_type"]},
            }
        ).encode()
        + b"\n"
        for r in generate(500, seed=7)
    ]
    out, size, i = [], 0, 0
    while size + len(lines[i % len(lines)]) <= room:
        out.append(lines[i % len(lines)])
        size += len(out[-1])
        i += 1
    return b"".join(out)


def multipart(content: bytes) -> bytes:
    """The body of POST /v1/files: purpose fine-tune and the file part."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        'filename="big.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n'
    ).encode()
    return head + content + f"\r\n--{BOUNDARY}--\r\n".encode()


def exchange(port: int, method: str, path: str, body: bytes, headers: dict, timeout: float):
    """Send one request on a new connection; return (status, body, seconds)."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), time.perf_counter() - start
    except OSError as exc:
        return 0, str(exc).encode(), time.perf_counter() - start
    finally:
        conn.close()


class Probes:
    """Start a /healthz and a POST /v1/interactions probe every PROBE_EVERY s until stopped."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key
        self.seconds: dict[str, list[float]] = {"healthz": [], "interaction": []}
        self.failed: dict[str, int] = {"healthz": 0, "interaction": 0}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ticker = threading.Thread(target=self._tick, daemon=True)

    def _one(self, name: str, method: str, path: str, body: bytes, ok: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        status, _, seconds = exchange(self.port, method, path, body, headers, PROBE_TIMEOUT)
        self.seconds[name].append(seconds)
        if status != ok:
            self.failed[name] += 1

    def _tick(self) -> None:
        probes = (
            ("healthz", "GET", "/healthz", b"", 200),
            ("interaction", "POST", "/v1/interactions", ONE, 201),
        )
        while not self._stop.is_set():
            for probe in probes:
                t = threading.Thread(target=self._one, args=probe, daemon=True)
                t.start()
                self._threads.append(t)
            self._stop.wait(PROBE_EVERY)

    def __enter__(self) -> "Probes":
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._ticker.join()
        for t in self._threads:
            t.join(PROBE_TIMEOUT + 5)


def quantile(values: list[float], q: float) -> float:
    """The q-quantile of values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(probes: Probes) -> dict[str, dict[str, float]]:
    """p50, p99 and max (seconds), probe count and failures of each probe."""
    return {
        name: {
            "p50": quantile(values, 0.5),
            "p99": quantile(values, 0.99),
            "max": max(values),
            "n": len(values),
            "failed": probes.failed[name],
        }
        for name, values in probes.seconds.items()
    }


def quiet_round(stack: Stack, seconds: float) -> dict:
    """A: the probes alone."""
    with Probes(stack.port, stack.api_key) as probes:
        time.sleep(seconds)
    return {"probes": figures(probes)}


def upload(port: int, key: str, body: bytes, out: list) -> None:
    """POST /v1/files; append (status, answer, seconds) to out."""
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    out.append(exchange(port, "POST", "/v1/files", body, headers, UPLOAD_TIMEOUT))


def wait_checked(stack: Stack, answers: list, started: float) -> float:
    """Wait until both uploaded files have left `uploaded`; return seconds since started."""
    ids = []
    for status, body, _ in answers:
        if status != 200:
            raise SystemExit(f"an upload was answered {status}: {body[:500]!r}")
        ids.append(json.loads(body)["id"])
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while time.monotonic() < deadline:
        records = [stack.store.files.get(fid) for fid in ids]
        if all(r and r["status"] != "uploaded" for r in records):
            bad = [r for r in records if r["status"] != "processed"]
            if bad:
                raise SystemExit(f"a file was not processed: {bad[0]}")
            return time.perf_counter() - started
        time.sleep(0.05)
    raise SystemExit(f"the files {ids} were not checked within {PROCESS_TIMEOUT:g} s")


def upload_round(stack: Stack, body: bytes) -> dict:
    """B: two uploads at once; the probes run until both files are checked."""
    answers: list = []
    with Probes(stack.port, stack.api_key) as probes:
        started = time.perf_counter()
        senders = [
            threading.Thread(target=upload, args=(stack.port, stack.api_key, body, answers))
            for _ in range(2)
        ]
        for t in senders:
            t.start()
        for t in senders:
            t.join(UPLOAD_TIMEOUT + 5)
        answered = time.perf_counter() - started
        checked = wait_checked(stack, answers, started)
    for _, answer, _ in answers:  # keep Redis small between rounds
        fid = json.loads(answer)["id"]
        exchange(stack.port, "DELETE", f"/v1/files/{fid}", b"", auth(stack), 60)
    return {"probes": figures(probes), "answered": answered, "checked": checked}


def auth(stack: Stack) -> dict:
    """The admin key's header."""
    return {"Authorization": f"Bearer {stack.api_key}"}


def line(label: str, r: dict) -> str:
    """One round's probe figures in milliseconds."""
    parts = [
        f"{name} p50 {f['p50'] * 1e3:.1f} p99 {f['p99'] * 1e3:.1f} max {f['max'] * 1e3:.1f} ms "
        f"({f['n']:.0f} probes, {f['failed']:.0f} failed)"
        for name, f in r["probes"].items()
    ]
    extra = (
        f"; uploads answered in {r['answered']:.2f} s, checked in {r['checked']:.2f} s"
        if "answered" in r
        else ""
    )
    return f"{label}: " + "; ".join(parts) + extra


def spread(values: list[float], scale: float = 1e3, unit: str = "ms") -> str:
    """Median (min, max)."""
    med = statistics.median(values) * scale
    return f"median {med:.1f} {unit} (min {min(values) * scale:.1f}, max {max(values) * scale:.1f})"


def report(quiet: list[dict], loaded: list[dict], size: int, rows: int) -> None:
    """Print the medians over rounds and the ratios B / A of p99."""
    print(f"\n{len(quiet)} rounds A, B; two uploads of {size:,} bytes ({rows:,} lines) each")
    for name in ("healthz", "interaction"):
        for label, rounds in (("A quiet", quiet), ("B uploads", loaded)):
            for key in ("p50", "p99", "max"):
                values = [r["probes"][name][key] for r in rounds]
                print(f"  {name:11} {label:9} {key}: {spread(values)}")
        ratios = [
            b["probes"][name]["p99"] / a["probes"][name]["p99"]
            for a, b in zip(quiet, loaded, strict=True)
        ]
        print(f"  {name:11} p99 B / A: {spread(ratios, 1, 'x')}")
    print(f"  uploads answered: {spread([r['answered'] for r in loaded], 1, 's')}")
    print(f"  files checked:    {spread([r['checked'] for r in loaded], 1, 's')}")


def run_rounds(stack: Stack, body: bytes, rounds: int, quiet_s: float) -> tuple[list, list]:
    """A, B, A, B ...: each round's figures, printed as they come."""
    quiet, loaded = [], []
    for i in range(rounds):
        quiet.append(quiet_round(stack, quiet_s))
        print(line(f"round {i + 1} A", quiet[-1]), flush=True)
        loaded.append(upload_round(stack, body))
        print(line(f"round {i + 1} B", loaded[-1]), flush=True)
    return quiet, loaded


def main(argv: list[str] | None = None) -> None:
    """Start the stack, run the rounds, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quiet", type=float, default=8.0, help="seconds of each A round")
    args = parser.parse_args(argv)
    max_body = Settings.from_env(os.environ).max_body_bytes
    content = chat_file(max_body)
    body = multipart(content)
    assert len(body) <= max_body, (len(body), max_body)
    stack, _ = start_stack(workers=2)
    try:
        quiet, loaded = run_rounds(stack, body, args.rounds, args.quiet)
    finally:
        stack.stop()
    print("command: .venv/bin/python tests/benchmarks/bench_upload_loop.py")
    report(quiet, loaded, len(content), content.count(b"\n"))


if __name__ == "__main__":
    main()
