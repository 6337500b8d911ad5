"""`make run`: the stack in the foreground until Ctrl-C or SIGTERM."""

import os
import secrets
import signal
import sys

from tuneloop_devstack.procs import Backoff, supervise
from tuneloop_devstack.stack import Stack


def main() -> None:
    """Start the stack from environment settings and keep it up until told to stop."""
    key = os.environ.get("TUNELOOP_API_KEY") or secrets.token_urlsafe(24)
    stack = Stack(
        api_key=key,
        port=int(os.environ.get("PORT", "8000")),
        workers=int(os.environ.get("WORKERS", "2")),
        redis_url=os.environ.get("REDIS_URL"),
    )

    def stop(signum: int, _frame: object) -> None:
        """Turn SIGTERM into the same clean stop as Ctrl-C."""
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        stack.start()
        print(f"Tuneloop is up at {stack.base_url} (docs: {stack.base_url}/docs)")
        print(f"jobs: {stack.base_url}/ui/jobs (sign in with the API key)")
        print(f"metrics: {stack.metrics_url()}")
        if "TUNELOOP_API_KEY" not in os.environ:
            print(f"API key (generated): {key}")
        print(f"redis: {stack.redis_url}; logs: {stack.workdir}; Ctrl-C stops everything")
        sys.stdout.flush()
        supervise(stack.procs, Backoff(), lambda line: print(line, file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        print("stopping…")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
