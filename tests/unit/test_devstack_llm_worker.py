"""`make run` starts an llm worker exactly when `import torch, trl, peft` works."""

import sys
from typing import Any

import pytest
from tuneloop_devstack import run


class RecordingStack:
    """Records the workers it is asked to start."""

    def __init__(self) -> None:
        self.started: list[tuple[str, dict[str, Any]]] = []

    def start_worker(self, name: str, **options: Any) -> None:
        self.started.append((name, options))


def test_with_the_extra_an_llm_worker_consumes_both_llm_queues(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(run, "LLM_LIBRARIES", ("json", "csv"))  # importable stand-ins
    stack = RecordingStack()
    said = run.start_llm_worker(stack)  # type: ignore[arg-type]
    queues = "tuneloop.llm,tuneloop.llm.interactive"
    assert stack.started == [
        ("llm-worker", {"concurrency": 2, "queues": queues, "wait": False}),
    ]
    assert said.startswith("llm worker: on") and queues in said


@pytest.mark.parametrize(
    ("libraries", "python"),
    [
        (("json", "tuneloop_no_such_library"), sys.executable),  # not installed
        (("json",), "/bin/false"),  # installed, but its import fails
    ],
)
def test_without_a_working_extra_no_llm_worker_starts_and_make_llm_is_named(
    monkeypatch: pytest.MonkeyPatch, libraries: tuple[str, ...], python: str
) -> None:
    monkeypatch.setattr(run, "LLM_LIBRARIES", libraries)
    stack = RecordingStack()
    said = run.start_llm_worker(stack, python)  # type: ignore[arg-type]
    assert stack.started == []
    assert said.startswith("llm worker: off") and "make llm" in said
