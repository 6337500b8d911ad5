"""`make run`: the stack in the foreground until Ctrl-C or SIGTERM, its data kept between runs."""

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

from tuneloop.llm.spec import QUEUE as LLM_QUEUE
from tuneloop.llm.spec import SERVE_QUEUE as LLM_SERVE_QUEUE
from tuneloop_devstack import datadir
from tuneloop_devstack.procs import Backoff, supervise
from tuneloop_devstack.stack import Stack


def choose_key(root: Path) -> tuple[str, str]:
    """Return the admin key (TUNELOOP_API_KEY, else the data directory's) and where it is from."""
    if given := os.environ.get("TUNELOOP_API_KEY"):
        return given, ""
    key, new = datadir.api_key(root)
    where = root / datadir.KEY_FILE
    return key, f"generated, kept in {where}" if new else f"from {where}"


LLM_LIBRARIES = ("torch", "trl", "peft")  # the llm extra (`make llm`)
LLM_WORKER = "llm-worker"


def llm_extra_installed(python: str) -> bool:
    """Whether `import torch, trl, peft` works, tried in a child so this process stays light."""
    if any(importlib.util.find_spec(name) is None for name in LLM_LIBRARIES):
        return False  # the common case without the extra: no interpreter started
    probe = [python, "-c", f"import {', '.join(LLM_LIBRARIES)}"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def start_llm_worker(stack: Stack, python: str = "") -> str:
    """Start the language-model worker when the llm extra is installed; say which."""
    if not llm_extra_installed(python or sys.executable):
        return "llm worker: off (the llm extra is not installed; `make llm` installs it)"
    queues = f"{LLM_QUEUE},{LLM_SERVE_QUEUE}"
    stack.start_worker(LLM_WORKER, concurrency=2, queues=queues, wait=False)
    return f"llm worker: on, queues {queues}, concurrency 2 (log: {LLM_WORKER}.log)"


def main() -> None:
    """Start the stack from environment settings and keep it up until told to stop."""
    root = datadir.data_dir(os.environ, Path.cwd())
    datadir.prepare(root)
    held = datadir.lock(root)  # a second run on the same directory stops here, saying why
    key, origin = choose_key(root)
    redis_url = os.environ.get("REDIS_URL")
    if redis_url is None and (pid := datadir.stop_stale_redis(root)) is not None:
        print(f"stopped redis-server pid {pid}, left running on {root} by an earlier run")
    datadir.rotate_logs(root)
    stack = Stack(
        api_key=key,
        port=int(os.environ.get("PORT", "8000")),
        workers=int(os.environ.get("WORKERS", "2")),
        redis_url=redis_url,
        workdir=root,
        die_with_parent=True,  # killed with SIGKILL, this process still takes its children along
    )

    def stop(signum: int, _frame: object) -> None:
        """Turn SIGTERM into the same clean stop as Ctrl-C."""
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        stack.start()
        llm = start_llm_worker(stack)
        print(f"Tuneloop is up at {stack.base_url} (docs: {stack.base_url}/docs)")
        print(f"jobs: {stack.base_url}/ui/jobs (sign in with the API key)")
        print(f"metrics: {stack.metrics_url()}")
        if origin:
            print(f"API key ({origin}): {key}")
        print(llm)
        print(f"data and logs: {root}; redis: {stack.redis_url}; Ctrl-C stops everything")
        sys.stdout.flush()
        supervise(stack.procs, Backoff(), lambda line: print(line, file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        print("stopping…")
    finally:
        stack.stop()
        held.close()


if __name__ == "__main__":
    main()
