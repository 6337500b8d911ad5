"""Health check of one worker: `python -m tuneloop_worker.ping [--node NAME]`, exit 0 if it answers.

Compose runs it in each worker container against the worker's own node name (Celery's
default, celery@<hostname>), so a container whose worker stopped consuming turns unhealthy.
"""

import argparse
import socket
import sys

from celery import Celery

from tuneloop import celery_factory
from tuneloop.settings import Settings


def answers(app: Celery, node: str, timeout: float) -> bool:
    """Return whether the worker node answers a broadcast ping within timeout seconds."""
    replies = app.control.ping(destination=[node], timeout=timeout) or []
    return any(node in reply for reply in replies)


def main(argv: list[str] | None = None) -> int:
    """Ping the node; return the exit status (0: it answered, 1: it did not)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", default=f"celery@{socket.gethostname()}")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    app = celery_factory.create(Settings.from_env(), "tuneloop-ping", current=True)
    ok = answers(app, args.node, args.timeout)
    print(f"{args.node}: {'answered' if ok else 'no answer'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
