"""Start a worker: `python -m tuneloop_worker [celery worker options]`."""

import sys

from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE
from tuneloop.settings import Settings
from tuneloop_worker.celery_app import create_celery


def main(argv: list[str] | None = None) -> None:
    """Read settings from the environment and run a Celery worker."""
    app = create_celery(Settings.from_env())
    args = argv if argv is not None else sys.argv[1:]
    app.worker_main(["worker", "-Q", f"{PIPELINE_QUEUE},{INTERACTIVE_QUEUE}", *args])


if __name__ == "__main__":
    main()
