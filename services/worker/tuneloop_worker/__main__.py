"""Start a worker: `python -m tuneloop_worker [celery worker options]`.

Without -Q it consumes both queues; `-Q tuneloop.interactive` makes a responder that answers
POST /v1/models/{id}/responses even while every pipeline worker is busy fine-tuning.
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Read settings from the environment and run a Celery worker."""
    # SIGTERM (a deploy, `docker stop`) starts Celery's soft shutdown: running stages get
    # worker_soft_shutdown_timeout to finish, then go back to the queue. billiard reads this
    # variable when it is imported, so it is set before Celery is.
    os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")
    from tuneloop.settings import Settings
    from tuneloop_worker.celery_app import create_celery

    app = create_celery(Settings.from_env())
    args = argv if argv is not None else sys.argv[1:]
    app.worker_main(["worker", *worker_args(args, os.environ.get("LOG_LEVEL", "INFO"))])


def worker_args(args: list[str], log_level: str) -> list[str]:
    """Add what the command line leaves out: both queues, and LOG_LEVEL as the log level."""
    from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE

    def given(short: str, long: str) -> bool:
        """Return whether the command line sets the option."""
        return any(a in (short, long) or a.startswith(long + "=") for a in args)

    extra = [] if given("-Q", "--queues") else ["-Q", f"{PIPELINE_QUEUE},{INTERACTIVE_QUEUE}"]
    extra += [] if given("-l", "--loglevel") else [f"--loglevel={log_level}"]
    return [*extra, *args]


if __name__ == "__main__":
    main()
