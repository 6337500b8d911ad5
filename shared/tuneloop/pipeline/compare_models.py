"""The compare_models stage: an evaluation job's report, in a fine-tuning job's shape."""

from tuneloop.job_request import request_of
from tuneloop.pipeline.compare import evaluation_report
from tuneloop.pipeline.evaluate import ROLES
from tuneloop.pipeline.runner import Limits
from tuneloop.store import Store


def run(store: Store, job: dict, limits: Limits) -> dict:
    """Assemble the comparison; the runner ends the job with it."""
    request = request_of(job)
    models = {role: getattr(request, field) for field, role in ROLES.items()}
    candidate = store.models.meta(request.model_b) or {}  # a built-in model never abstains
    abstention = candidate.get("out_of_scope")  # {task, threshold} when model_b abstains
    report = evaluation_report(store, job, request.seed, abstention)
    return {"models": models, **report}
