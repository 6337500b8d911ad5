"""One thin Celery task per stage of the stage graph; each takes and returns the job id."""

from celery import shared_task

from tuneloop import graph
from tuneloop.pipeline import fanout
from tuneloop.pipeline.runner import work_of
from tuneloop_worker.tasks.base import TASK_OPTIONS, PartTask, StageTask, run, run_part


def register(stage: graph.Stage) -> StageTask:
    """Register the Celery task that runs one stage of a job (its function imported now)."""
    work_of(stage.name)  # a stage whose function cannot be imported stops the worker at start

    def stage_task(self: StageTask, job_id: str) -> str:
        return run(self, job_id, stage.name)

    stage_task.__name__ = stage_task.__qualname__ = stage.name
    stage_task.__doc__ = stage.summary
    return shared_task(name=stage.task, base=StageTask, **TASK_OPTIONS)(stage_task)


def register_part(stage: graph.Stage) -> PartTask:
    """Register the Celery task that runs one part of a fanned-out stage of a job."""
    fanout.part_of(stage.name)  # as for stages: a part that cannot be imported stops the worker
    fanout.join_of(stage.name)

    def part_task(self: PartTask, job_id: str, index: int) -> str:
        return run_part(self, job_id, index)

    part_task.__name__ = part_task.__qualname__ = f"{stage.name}_part"
    part_task.__doc__ = f"One part of {stage.name}: {stage.summary}"
    return shared_task(name=stage.part_task, base=PartTask, **TASK_OPTIONS)(part_task)


TASKS: dict[str, StageTask] = {stage.name: register(stage) for stage in graph.ALL}
PARTS: dict[str, PartTask] = {
    stage.name: register_part(stage) for stage in graph.ALL if stage.fan_out is not None
}
