"""The evaluate_baseline stage: the job's baseline answers its evaluation suite.

The baseline is the keyword agent, or the base model itself when the job's model kind
evaluates its own way (an "evaluate" hook, as language models do).
"""

from tuneloop import contracts
from tuneloop.agent import registry
from tuneloop.job_request import request_of
from tuneloop.pipeline.evaluate import evaluate_agent
from tuneloop.pipeline.runner import Limits
from tuneloop.store import Store


def run(store: Store, job: dict, limits: Limits) -> None:
    """Answer the evaluation suite with the baseline."""
    base = request_of(job).model
    own = registry.job_hook(base, "evaluate")
    if own is not None:
        own(store, job, "baseline", base)
        return
    evaluate_agent(store, job, registry.builtin(contracts.BASELINE_MODEL_ID), "baseline")
