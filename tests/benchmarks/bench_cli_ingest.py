"""`tuneloop ingest FILE` against the raw batch endpoint: records per second, interleaved A/B.

A runs the CLI as a user does (a subprocess: start-up, reading and parsing the JSONL file,
a sha256 Idempotency-Key per batch of 1,000, the progress bar off as output is not a
terminal). B posts the same rows, already in memory and serialized, to
POST /v1/interactions/batch in batches of 1,000 over one keep-alive connection, without
keys. Both go to the same gateway (2 gevent gunicorn workers) and redis-server. Rows are
Banking77's train split, repeated to ROWS; each run sends its own ratings, so no batch is an
idempotent replay of an earlier one.

    .venv/bin/python tests/benchmarks/bench_cli_ingest.py
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from bench_banking77 import rows as banking77_rows
from benchsupport import start_stack

ROWS, ROUNDS, BATCH = 100_000, 3, 1000


def round_rows(base: list[dict], run: int) -> list[dict]:
    """ROWS rows cycling over base, with a rating of this run's own."""
    rating = round(0.99 - run * 0.01, 2)
    return [{**base[i % len(base)], "rating": rating} for i in range(ROWS)]


def cli_ingest(env: dict[str, str], path: Path) -> float:
    """Run `tuneloop ingest path`; return its wall seconds."""
    cli = shutil.which("tuneloop", path=str(Path(sys.executable).parent)) or "tuneloop"
    start = time.perf_counter()
    done = subprocess.run([cli, "ingest", str(path)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or f"stored {ROWS:,} interactions" not in done.stdout:
        sys.exit(f"tuneloop ingest failed ({done.returncode}): {done.stdout}{done.stderr}")
    return seconds


def raw_post(base_url: str, key: str, rows: list[dict]) -> float:
    """POST rows in batches of BATCH with requests; return the wall seconds."""
    bodies = [
        json.dumps({"items": rows[i : i + BATCH]}).encode() for i in range(0, len(rows), BATCH)
    ]
    session = requests.Session()
    session.trust_env = False
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    start = time.perf_counter()
    for body in bodies:
        response = session.post(f"{base_url}/v1/interactions/batch", data=body, headers=headers)
        response.raise_for_status()
    return time.perf_counter() - start


def line(label: str, rates: list[float]) -> str:
    """A figure's median and range."""
    return (
        f"{label:36} median {statistics.median(rates):>8,.0f} rows/s "
        f"(min {min(rates):,.0f}, max {max(rates):,.0f})"
    )


def main() -> None:
    """Interleave CLI and raw ingests of ROWS rows and print rows/s and the ratio."""
    base = banking77_rows("train.csv")
    stack, _ = start_stack(workers=1)
    cli_rates, raw_rates, ratios = [], [], []
    env = {**os.environ, "TUNELOOP_URL": stack.base_url, "TUNELOOP_API_KEY": stack.api_key}
    env.pop("NO_COLOR", None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(ROUNDS):
                path = Path(tmp) / f"round{r}.jsonl"
                path.write_text("".join(json.dumps(x) + "\n" for x in round_rows(base, 2 * r)))
                cli = ROWS / cli_ingest(env, path)
                raw = ROWS / raw_post(stack.base_url, stack.api_key, round_rows(base, 2 * r + 1))
                cli_rates.append(cli)
                raw_rates.append(raw)
                ratios.append(cli / raw)
                print(f"round {r + 1}: CLI {cli:,.0f} rows/s, raw {raw:,.0f} rows/s", flush=True)
    finally:
        stack.stop()
    print("command: .venv/bin/python tests/benchmarks/bench_cli_ingest.py")
    print(f"{ROWS:,} Banking77 rows per run, {ROUNDS} rounds interleaved CLI, raw, CLI, raw…")
    print(line("tuneloop ingest FILE (A)", cli_rates))
    print(line("raw POST /v1/interactions/batch (B)", raw_rates))
    print(
        f"CLI / raw: median {statistics.median(ratios):.2f} "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
