"""One thin task per pipeline stage; each takes and returns the job id."""

from celery import shared_task

from tuneloop import contracts
from tuneloop.pipeline import steps
from tuneloop.pipeline.runner import run_stage
from tuneloop_worker.runtime import store
from tuneloop_worker.tasks.base import RETRY_OPTIONS, StageTask


@shared_task(name=contracts.COLLECT, base=StageTask, **RETRY_OPTIONS)
def collect(job_id: str) -> str:
    """Snapshot the interactions that existed when the job was created."""
    return run_stage(store(), job_id, "collect", steps.collect)


@shared_task(name=contracts.FILTER, base=StageTask, **RETRY_OPTIONS)
def filter_examples(job_id: str) -> str:
    """Keep the collected examples that pass the job's quality rules."""
    return run_stage(store(), job_id, "filter", steps.filter_)


@shared_task(name=contracts.PREPARE, base=StageTask, **RETRY_OPTIONS)
def prepare(job_id: str) -> str:
    """Split the examples and fix the evaluation suite."""
    return run_stage(store(), job_id, "prepare", steps.prepare)


@shared_task(name=contracts.EVALUATE_BASELINE, base=StageTask, **RETRY_OPTIONS)
def evaluate_baseline(job_id: str) -> str:
    """Evaluate the keyword baseline."""
    return run_stage(store(), job_id, "evaluate_baseline", steps.evaluate_baseline)


@shared_task(name=contracts.FINE_TUNE, base=StageTask, **RETRY_OPTIONS)
def fine_tune(job_id: str) -> str:
    """Train the agent and save it as a model."""
    return run_stage(store(), job_id, "fine_tune", steps.fine_tune)


@shared_task(name=contracts.EVALUATE_FINE_TUNED, base=StageTask, **RETRY_OPTIONS)
def evaluate_fine_tuned(job_id: str) -> str:
    """Evaluate the fine-tuned agent."""
    return run_stage(store(), job_id, "evaluate_fine_tuned", steps.evaluate_fine_tuned)


@shared_task(name=contracts.COMPARE, base=StageTask, **RETRY_OPTIONS)
def compare(job_id: str) -> str:
    """Write the report and end the job."""
    return run_stage(store(), job_id, "compare", steps.compare)
