"""One thin task per pipeline stage; each takes and returns the job id."""

from celery import shared_task

from tuneloop import contracts
from tuneloop_worker.tasks.base import TASK_OPTIONS, StageTask, run


@shared_task(name=contracts.COLLECT, base=StageTask, **TASK_OPTIONS)
def collect(self: StageTask, job_id: str) -> str:
    """Snapshot the interactions that existed when the job was created."""
    return run(self, job_id, "collect")


@shared_task(name=contracts.FILTER, base=StageTask, **TASK_OPTIONS)
def filter_examples(self: StageTask, job_id: str) -> str:
    """Keep the collected examples that pass the job's quality rules."""
    return run(self, job_id, "filter")


@shared_task(name=contracts.PREPARE, base=StageTask, **TASK_OPTIONS)
def prepare(self: StageTask, job_id: str) -> str:
    """Split the examples and fix the evaluation suite."""
    return run(self, job_id, "prepare")


@shared_task(name=contracts.EVALUATE_BASELINE, base=StageTask, **TASK_OPTIONS)
def evaluate_baseline(self: StageTask, job_id: str) -> str:
    """Evaluate the keyword baseline."""
    return run(self, job_id, "evaluate_baseline")


@shared_task(name=contracts.FINE_TUNE, base=StageTask, **TASK_OPTIONS)
def fine_tune(self: StageTask, job_id: str) -> str:
    """Train the agent and save it as a model."""
    return run(self, job_id, "fine_tune")


@shared_task(name=contracts.EVALUATE_FINE_TUNED, base=StageTask, **TASK_OPTIONS)
def evaluate_fine_tuned(self: StageTask, job_id: str) -> str:
    """Evaluate the fine-tuned agent."""
    return run(self, job_id, "evaluate_fine_tuned")


@shared_task(name=contracts.COMPARE, base=StageTask, **TASK_OPTIONS)
def compare(self: StageTask, job_id: str) -> str:
    """Write the report and end the job."""
    return run(self, job_id, "compare")
