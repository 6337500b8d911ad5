"""The evaluate_baseline stage: the keyword baseline answers the job's evaluation suite."""

from tuneloop import contracts
from tuneloop.agent import registry
from tuneloop.pipeline.evaluate import evaluate_agent
from tuneloop.pipeline.runner import Limits
from tuneloop.store import Store


def run(store: Store, job: dict, limits: Limits) -> None:
    """Answer the evaluation suite with the keyword baseline."""
    evaluate_agent(store, job, registry.builtin(contracts.BASELINE_MODEL_ID), "baseline")
