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
    from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE
    from tuneloop.settings import Settings
    from tuneloop_worker.celery_app import create_celery

    app = create_celery(Settings.from_env())
    args = argv if argv is not None else sys.argv[1:]
    if not any(a in ("-Q", "--queues") or a.startswith("--queues=") for a in args):
        args = ["-Q", f"{PIPELINE_QUEUE},{INTERACTIVE_QUEUE}", *args]
    app.worker_main(["worker", *args])


if __name__ == "__main__":
    main()
