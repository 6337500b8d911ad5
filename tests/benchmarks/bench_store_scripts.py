"""Redis-side cost of the store's hot-path scripts: microseconds per EVALSHA.

The gateway's job read (an ended job's kept answer; an active job whose state the caller
holds, "same"; an active job read in full, "fields"), one interaction stored (without and
with the model that answered, which it also files in that model's index), a batch of 20
naming 4 models, and a job field set while it is active, each with two rate-limit windows
where the gateway passes them. Redis's own INFO commandstats times the scripts, so the
client and the network (noisy on a shared machine) are left out. Every call's cost is
constant in the number of jobs and interactions stored; the read grows with its job's
deliveries hash (d fields), O(d log d) for an ended job's stamp. It uses only the store's
public calls, so the same file run against an older tree measures that tree's scripts
(PYTHONPATH=<tree>/shared).

    .venv/bin/python tests/benchmarks/bench_store_scripts.py [--calls 3000] [--rounds 5]
"""

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from redis import Redis
from tuneloop_devstack.procs import Proc, free_port
from tuneloop_devstack.redis_server import answers, redis_argv, redis_binary

from tuneloop.store import Store
from tuneloop.store.ratelimit import Window

STAGES = ("collect", "filter", "prepare", "fine_tune", "evaluate_baseline")
ITEM = {"input": "will it rain?", "output": "Light rain.", "rating": 0.9, "task_type": "weather"}
BATCH = [{**ITEM, "model": f"ft-bench-{i % 4:012x}"} for i in range(20)]
WINDOWS = [Window("bench:minute", 60, 10**9), Window("bench:second", 1, 10**9)]


def calls(store: Store) -> dict[str, Callable[[], object]]:
    """The calls to time, on one active and one ended job with a delivery per stage."""
    active = store.jobs.create({"training_file": "bench"}, 0, 10)["id"]
    ended = store.jobs.create({"training_file": "bench"}, 0, 10)["id"]
    for jid in (active, ended):
        for stage in STAGES:
            store.deliveries.start(jid, stage, "token")
            store.deliveries.end(jid, stage, "token")
    store.jobs.fail(ended, "compare", "bench", "ended for the benchmark")
    read = store.jobs.read(ended)
    store.jobs.keep_document(ended, read.stamp, json.dumps(read.job()))
    held = store.jobs.read(active).digest
    return {
        "read ended (kept)": lambda: store.jobs.read(ended, WINDOWS),
        "read active (same)": lambda: store.jobs.read(active, WINDOWS, known=held),
        "read active (fields)": lambda: store.jobs.read(active, WINDOWS),
        "add one interaction": lambda: store.interactions.add_many([ITEM], WINDOWS),
        "add one (model)": lambda: store.interactions.add_many([BATCH[0]], WINDOWS),
        "add 20 (4 models)": lambda: store.interactions.add_many(BATCH, WINDOWS),
        "update_if_active": lambda: store.jobs.update_if_active(active, stage="collect"),
    }


def usec_per_call(redis: Redis, call: Callable[[], object], n: int) -> float:
    """Return Redis's µs per EVALSHA over n calls."""
    call()  # the script is loaded before the count starts
    redis.config_resetstat()
    for _ in range(n):
        call()
    return float(redis.info("commandstats")["cmdstat_evalsha"]["usec_per_call"])


def main() -> None:
    """Time each call in rounds on a private redis-server; print medians and min-max."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-store-") as data:
        run(args.calls, args.rounds, Path(data))


def run(n: int, rounds: int, data: Path) -> None:
    """Start a redis-server on data, time every call, print the figures, stop it."""
    port = free_port()
    server = Proc("redis", redis_argv(port, data, None, redis_binary()), data / "redis.log")
    try:
        url = f"redis://127.0.0.1:{port}/0"
        while not answers(url):  # up in milliseconds; polled, not slept through
            if not server.alive():
                raise SystemExit(server.tail())
            time.sleep(0.02)
        redis = Redis.from_url(url, decode_responses=True)
        timed = calls(Store(redis))
        found: dict[str, list[float]] = {name: [] for name in timed}
        for _ in range(rounds):  # interleaved, so a busy moment hits every call
            for name, call in timed.items():
                found[name].append(usec_per_call(redis, call, n))
        print(f"Redis µs per EVALSHA, {rounds} rounds of {n:,} calls")
        for name, values in found.items():
            spread = f"{min(values):.1f}-{max(values):.1f}"
            print(f"  {name:22s} {statistics.median(values):6.1f} ({spread})")
    finally:
        server.stop(grace=5)


if __name__ == "__main__":
    main()
