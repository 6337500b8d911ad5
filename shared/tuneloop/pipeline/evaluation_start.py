"""The evaluation_start stage: an evaluation job checks both models and its eval set."""

from tuneloop.errors import StageError
from tuneloop.job_request import request_of
from tuneloop.pipeline.evaluate import ROLES
from tuneloop.pipeline.runner import Limits
from tuneloop.store import Store


def run(store: Store, job: dict, limits: Limits) -> None:
    """Check that both models are still there and the eval set is stored."""
    request = request_of(job)
    for field in ROLES:
        mid = getattr(request, field)
        if store.for_job(job).models.resolve(mid) != mid:
            raise StageError("model_missing", f"{field} {mid!r} no longer exists")
    if not store.jobs.has_eval_set(job["id"]):
        raise StageError("eval_set_missing", f"the eval set of job {job['id']} is gone")
    n = request.eval_set_size
    store.jobs.add_event(
        job["id"],
        "evaluation_start:models",
        "message",
        f"evaluating {request.model_b} against {request.model_a} on {n} cases",
        {"model_a": request.model_a, "model_b": request.model_b, "cases": n},
    )
