"""The evaluate_model_b stage: an evaluation job's model_b answers its eval set."""

from tuneloop.pipeline.evaluate import evaluate_model
from tuneloop.pipeline.runner import Limits
from tuneloop.store import Store


def run(store: Store, job: dict, limits: Limits) -> None:
    """Answer the eval set with model_b."""
    evaluate_model(store, job, "model_b")
