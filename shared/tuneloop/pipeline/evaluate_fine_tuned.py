"""The evaluate_fine_tuned stage: the job's published model answers the evaluation suite."""

from tuneloop.agent import registry
from tuneloop.job_request import request_of
from tuneloop.pipeline.evaluate import evaluate_agent, load_agent
from tuneloop.pipeline.fine_tune import model_id_for
from tuneloop.pipeline.runner import Limits
from tuneloop.store import Store


def run(store: Store, job: dict, limits: Limits) -> None:
    """Load the fine-tuned model as a worker would, and answer the evaluation suite with it."""
    own = registry.job_hook(request_of(job).model, "evaluate")
    if own is not None:
        own(store, job, "fine_tuned", model_id_for(job))
        return
    agent = load_agent(store, job, model_id_for(job), "evaluate_fine_tuned")
    evaluate_agent(store, job, agent, "fine_tuned")
