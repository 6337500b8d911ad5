"""The pipeline's stages, declared once: every other list of stages is derived from GRAPH.

Adding a stage is one module with its function (see tuneloop.pipeline.steps) and one entry
here. From GRAPH come the stage list and progress total (contracts, the job record), what
each stage waits for and which stages join branches (the runner), one Celery task per stage
(the worker), and the canvas the gateway and the sweeper send (tuneloop.canvas).

This module imports nothing heavy: a stage's function is named as "module:function" and
imported only by the worker, so the gateway never loads the learning libraries.
"""

from dataclasses import dataclass
from typing import Final

TASK_PREFIX: Final = "tuneloop.stages."
STEPS_MODULE: Final = "tuneloop.pipeline.steps"


@dataclass(frozen=True)
class Stage:
    """One stage: its name, the function the worker runs, what it needs, what it does."""

    name: str
    work: str  # "module:function", called as work(store, job, limits)
    needs: tuple[str, ...]  # the stages it runs after (all of them must be done)
    summary: str  # one line: the Celery task's docstring

    @property
    def task(self) -> str:
        """The Celery task name."""
        return TASK_PREFIX + self.name


def _step(name: str, function: str, needs: tuple[str, ...], summary: str) -> Stage:
    return Stage(name, f"{STEPS_MODULE}:{function}", needs, summary)


GRAPH: Final = (
    _step("collect", "collect", (), "Snapshot the interactions there were at job creation."),
    _step("filter", "filter_", ("collect",), "Keep the examples that pass the quality rules."),
    _step("prepare", "prepare", ("filter",), "Split the examples and fix the evaluation suite."),
    _step("evaluate_baseline", "evaluate_baseline", ("prepare",), "Evaluate the keyword baseline."),
    _step("fine_tune", "fine_tune", ("prepare",), "Train the agent and save it as a model."),
    _step(
        "evaluate_fine_tuned",
        "evaluate_fine_tuned",
        ("evaluate_baseline", "fine_tune"),
        "Evaluate the fine-tuned agent.",
    ),
    _step("compare", "compare", ("evaluate_fine_tuned",), "Write the report and end the job."),
)  # fmt: skip

BY_NAME: Final = {stage.name: stage for stage in GRAPH}
STAGES: Final = tuple(stage.name for stage in GRAPH)
NEEDS: Final = {stage.name: stage.needs for stage in GRAPH}
# Stages that need more than one stage: each branch leading there carries on to them, and
# only the branch that finishes last runs them (no chord, see tuneloop.canvas).
JOINS: Final = frozenset(stage.name for stage in GRAPH if len(stage.needs) > 1)


def successors(name: str) -> tuple[str, ...]:
    """Return the stages that need stage name, in declaration order."""
    return tuple(stage.name for stage in GRAPH if name in stage.needs)


def first() -> str:
    """Return the one stage that needs nothing."""
    (root,) = (stage.name for stage in GRAPH if not stage.needs)
    return root


def progress_total(n_epochs: int) -> int:
    """Return a job's progress steps: one per stage, plus one per epoch of fine-tuning."""
    return len(GRAPH) + n_epochs


def check(graph: tuple[Stage, ...] = GRAPH) -> None:
    """Raise ValueError unless names are unique, needs come earlier, and one stage starts."""
    seen: set[str] = set()
    for stage in graph:
        if stage.name in seen:
            raise ValueError(f"stage {stage.name!r} is declared twice")
        if unknown := [n for n in stage.needs if n not in seen]:
            raise ValueError(f"stage {stage.name!r} needs {unknown}, not declared before it")
        seen.add(stage.name)
    roots = [stage.name for stage in graph if not stage.needs]
    if len(roots) != 1:
        raise ValueError(f"exactly one stage must need nothing, found {roots}")


check()
