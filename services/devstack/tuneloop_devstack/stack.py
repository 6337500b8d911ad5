"""The whole stack as local processes: a private redis-server, the gateway, the workers."""

import json
import os
import shutil
import socket
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE
from tuneloop_devstack.procs import Proc, free_port, wait_for

REDIS_MISSING = (
    "redis-server was not found on PATH: install it (Debian/Ubuntu: sudo apt-get install "
    "redis-server) or set REDIS_URL to a Redis you run"
)


@dataclass
class Stack:
    """Processes started for one run; stop() ends every one of them."""

    api_key: str
    port: int
    workers: int
    redis_url: str | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tuneloop-")))
    procs: list[Proc] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """Return the gateway's address."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start redis (unless given), the workers and the gateway; wait until ready."""
        if self.redis_url is None:
            self.redis_url = self._start_redis()
        env = {**os.environ, "REDIS_URL": self.redis_url, "TUNELOOP_API_KEY": self.api_key}
        for name, queue, concurrency in (
            ("worker", PIPELINE_QUEUE, self.workers),
            ("responder", INTERACTIVE_QUEUE, 1),
        ):
            argv = [
                sys.executable,
                "-m",
                "tuneloop_worker",
                "-Q",
                queue,
                "-n",
                f"{name}@%h",
                f"--concurrency={concurrency}",
                "--loglevel=INFO",
            ]
            self.procs.append(Proc(name, argv, self.workdir / f"{name}.log", env))
        gunicorn = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:tuneloop_gateway.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{self.port}",
            "tuneloop_gateway.app:create_app()",
        ]
        self.procs.append(Proc("gateway", gunicorn, self.workdir / "gateway.log", env))
        wait_for(self._ready, 90, "the gateway and a worker to be ready", self.procs)

    def _start_redis(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            sys.exit(REDIS_MISSING)
        port = free_port()
        argv = [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--maxmemory-policy",
            "noeviction",
        ]
        self.procs.append(Proc("redis", argv, self.workdir / "redis.log"))
        wait_for(lambda: _accepts(port), 20, "redis-server to accept connections", self.procs)
        return f"redis://127.0.0.1:{port}/0"

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/readyz", timeout=3) as r:
                workers = json.load(r).get("workers", [])
        except OSError:
            return False
        # Both the pipeline worker and the responder must answer.
        return {w.split("@")[0] for w in workers} >= {"worker", "responder"}

    def stop(self) -> None:
        """Stop the gateway, the workers and redis, in that order."""
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
