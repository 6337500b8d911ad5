"""`python -m tuneloop_worker`: both queues and LOG_LEVEL unless the command line says otherwise."""

import pytest

from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE
from tuneloop_worker.__main__ import worker_args

BOTH = ["-Q", f"{PIPELINE_QUEUE},{INTERACTIVE_QUEUE}"]


def test_a_bare_command_consumes_both_queues_at_log_level() -> None:
    assert worker_args([], "WARNING") == [*BOTH, "--loglevel=WARNING"]


@pytest.mark.parametrize("given", [["-l", "DEBUG"], ["--loglevel", "DEBUG"], ["--loglevel=DEBUG"]])
def test_a_log_level_on_the_command_line_wins(given: list[str]) -> None:
    assert worker_args(given, "WARNING") == [*BOTH, *given]


@pytest.mark.parametrize("given", [["-Q", PIPELINE_QUEUE], [f"--queues={INTERACTIVE_QUEUE}"]])
def test_queues_on_the_command_line_are_kept_alone(given: list[str]) -> None:
    assert worker_args([*given, "--concurrency=2"], "INFO") == [
        "--loglevel=INFO",
        *given,
        "--concurrency=2",
    ]
