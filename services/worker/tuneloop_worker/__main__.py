"""Start a worker: `python -m tuneloop_worker [celery worker options]`."""

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
    app.worker_main(["worker", "-Q", f"{PIPELINE_QUEUE},{INTERACTIVE_QUEUE}", *args])


if __name__ == "__main__":
    main()
