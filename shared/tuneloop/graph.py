"""The pipelines' stages, declared once: every other list of stages is derived from here.

A stage is one name. Its store side (what it reads and writes around its pure function) is
the module of that name in tuneloop.pipeline, whose `run(store, job, limits)` the worker
calls; its pure side, when it has one of its own, is the module of that name in
tuneloop.stages (the four evaluate_* stages share tuneloop.pipeline.evaluate and
tuneloop.stages.evaluate; fine_tune's is the trainer of the job's model kind, found through
tuneloop.agent.registry). Adding a stage is that module and one entry here. From GRAPH and
EVALUATION_GRAPH come the stage list and progress total (contracts, the job record), what
each stage waits for and which stages join branches (the runner), one Celery task per stage
(the worker), and the canvas the gateway and the sweeper send (tuneloop.canvas).

A fanned-out stage (`fan_out`) splits its work into parts that run as a Celery group over
every pipeline worker: its `work` is the plan (it stores the parts and names those to send,
tuneloop.pipeline.fanout), `fan_out.part` runs one part, and the part that completes the set
runs `fan_out.join`, marks the stage done and sends the stages after it.

This module imports nothing heavy: a stage's function is named as "module:function" and
imported only by the worker, so the gateway never loads the learning libraries.
"""

from dataclasses import dataclass
from typing import Final

TASK_PREFIX: Final = "tuneloop.stages."
AUTO: Final = "auto"  # a hyperparameter chosen from the data at prepare
STAGE_PACKAGE: Final = "tuneloop.pipeline"  # a stage's store side: STAGE_PACKAGE.<name>:run
PART_SUFFIX: Final = ".part"  # a fanned-out stage's part task: its task name and this

FINE_TUNING: Final = "fine_tuning"  # a job's kind names the pipeline it runs
EVALUATION: Final = "evaluation"


@dataclass(frozen=True)
class FanOut:
    """How a fanned-out stage's parts run: each part, then the join of the last one."""

    part: str  # "module:function", called as part(store, job, index, limits) -> dict
    join: str  # "module:function", called as join(store, job, limits) once all are done


@dataclass(frozen=True)
class Stage:
    """One stage: its name, the function the worker runs, what it needs, what it does."""

    name: str
    work: str  # "module:function", called as work(store, job, limits)
    needs: tuple[str, ...]  # the stages it runs after (all of them must be done)
    summary: str  # one line: the Celery task's docstring
    fan_out: FanOut | None = None  # its work is a plan of parts run as a Celery group

    @property
    def task(self) -> str:
        """The Celery task name."""
        return TASK_PREFIX + self.name

    @property
    def part_task(self) -> str:
        """The Celery task name of one part of a fanned-out stage."""
        return f"{self.task}{PART_SUFFIX}"


def _step(name: str, needs: tuple[str, ...], summary: str) -> Stage:
    """Declare a stage; its function is `run` of the pipeline module of its name."""
    return Stage(name, f"{STAGE_PACKAGE}.{name}:run", needs, summary)


def _fanned(name: str, needs: tuple[str, ...], summary: str) -> Stage:
    """Declare a fanned-out stage: `run` plans, `part` runs one part, `join` ends the set."""
    module = f"{STAGE_PACKAGE}.{name}"
    return Stage(name, f"{module}:run", needs, summary, FanOut(f"{module}:part", f"{module}:join"))


GRAPH: Final = (
    _step("collect", (), "Snapshot the interactions there were at job creation."),
    _step("filter", ("collect",), "Keep the examples that pass the quality rules."),
    _step("prepare", ("filter",), "Split the examples and fix the evaluation suite."),
    _fanned("embed", ("prepare",), "Embed the job's texts ahead, in parts over the workers."),
    _step("evaluate_baseline", ("prepare",), "Evaluate the keyword baseline."),
    _step("fine_tune", ("embed",), "Train the agent and save it as a model."),
    _step(
        "evaluate_fine_tuned", ("evaluate_baseline", "fine_tune"), "Evaluate the fine-tuned agent."
    ),
    _step("compare", ("evaluate_fine_tuned",), "Write the report and end the job."),
)

# An evaluation job (POST /v1/evaluations): two stored models answer the same eval set.
EVALUATION_GRAPH: Final = (
    _step("evaluation_start", (), "Check both models and the eval set."),
    _step("evaluate_model_a", ("evaluation_start",), "Evaluate model_a."),
    _step("evaluate_model_b", ("evaluation_start",), "Evaluate model_b."),
    _step(
        "compare_models",
        ("evaluate_model_a", "evaluate_model_b"),
        "Write the comparison and end the job.",
    ),
)

PIPELINES: Final = {FINE_TUNING: GRAPH, EVALUATION: EVALUATION_GRAPH}
ALL: Final = GRAPH + EVALUATION_GRAPH
BY_NAME: Final = {stage.name: stage for stage in ALL}
STAGES: Final = tuple(stage.name for stage in ALL)
NEEDS: Final = {stage.name: stage.needs for stage in ALL}
# Stages that need more than one stage: each branch leading there carries on to them, and
# only the branch that finishes last runs them (no chord, see tuneloop.canvas).
JOINS: Final = frozenset(stage.name for stage in ALL if len(stage.needs) > 1)
# Stages whose work runs in parts, as a Celery group (see FanOut).
FANNED: Final = frozenset(stage.name for stage in ALL if stage.fan_out is not None)


def successors(name: str) -> tuple[str, ...]:
    """Return the stages that need stage name, in declaration order."""
    return tuple(stage.name for stage in ALL if name in stage.needs)


def stages_of(kind: str) -> tuple[str, ...]:
    """Return the stage names of a job kind's pipeline, in declaration order."""
    return tuple(stage.name for stage in PIPELINES[kind])


def first(kind: str = FINE_TUNING) -> str:
    """Return the one stage of a kind's pipeline that needs nothing."""
    (root,) = (stage.name for stage in PIPELINES[kind] if not stage.needs)
    return root


def last(kind: str = FINE_TUNING) -> str:
    """Return the stage that ends a kind's pipeline (declared last)."""
    return PIPELINES[kind][-1].name


def progress_total(n_epochs: int | str, kind: str = FINE_TUNING) -> int:
    """Return a job's progress steps: one per stage, plus one per epoch of fine-tuning.

    n_epochs "auto" (the request's default) counts no epoch yet: prepare resolves it and
    sets the total again. Any other value that is not an int is a caller's mistake.
    """
    if n_epochs == AUTO:
        return len(PIPELINES[kind])
    if not isinstance(n_epochs, int):
        raise TypeError(f"n_epochs must be an int or {AUTO!r}, not {n_epochs!r}")
    return len(PIPELINES[kind]) + n_epochs


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


for _pipeline in PIPELINES.values():
    check(_pipeline)
if len(BY_NAME) != len(ALL):  # a stage name is a Celery task name: unique across pipelines
    raise ValueError("a stage name is used by more than one pipeline")
