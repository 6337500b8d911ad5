"""The evaluate_model_a stage: an evaluation job's model_a answers its eval set."""

from tuneloop.pipeline.evaluate import evaluate_model
from tuneloop.pipeline.runner import Limits
from tuneloop.store import Store


def run(store: Store, job: dict, limits: Limits) -> None:
    """Answer the eval set with model_a."""
    evaluate_model(store, job, "model_a")
