"""One thin Celery task per stage of the stage graph; each takes and returns the job id."""

from celery import shared_task

from tuneloop import graph
from tuneloop.pipeline.runner import work_of
from tuneloop_worker.tasks.base import TASK_OPTIONS, StageTask, run


def register(stage: graph.Stage) -> StageTask:
    """Register the Celery task that runs one stage of a job (its function imported now)."""
    work_of(stage.name)  # a stage whose function cannot be imported stops the worker at start

    def stage_task(self: StageTask, job_id: str) -> str:
        return run(self, job_id, stage.name)

    stage_task.__name__ = stage_task.__qualname__ = stage.name
    stage_task.__doc__ = stage.summary
    return shared_task(name=stage.task, base=StageTask, **TASK_OPTIONS)(stage_task)


TASKS: dict[str, StageTask] = {stage.name: register(stage) for stage in graph.ALL}
