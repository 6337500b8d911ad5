"""The evaluation pipeline's stages: two stored models answer one eval set, then a report."""

from tuneloop.agent import registry
from tuneloop.errors import StageError
from tuneloop.pipeline import steps
from tuneloop.pipeline.runner import Limits
from tuneloop.store import Store

# Each model's role in the report: model_a is read as the baseline, model_b as the candidate,
# so an evaluation's report has the same shape (and gate, and cases) as a fine-tuning job's.
ROLES = {"model_a": "baseline", "model_b": "fine_tuned"}


def start(store: Store, job: dict, limits: Limits) -> None:
    """Check that both models are still there and the eval set is stored."""
    request = job["request"]
    for field in ROLES:
        if store.models.resolve(request[field]) != request[field]:
            raise StageError("model_missing", f"{field} {request[field]!r} no longer exists")
    if not store.jobs.has_eval_set(job["id"]):
        raise StageError("eval_set_missing", f"the eval set of job {job['id']} is gone")
    n = request["eval_set_size"]
    store.jobs.add_event(
        job["id"],
        "evaluation_start:models",
        "message",
        f"evaluating {request['model_b']} against {request['model_a']} on {n} cases",
        {"model_a": request["model_a"], "model_b": request["model_b"], "cases": n},
    )


def evaluate_model_a(store: Store, job: dict, limits: Limits) -> None:
    """Answer the eval set with model_a."""
    _evaluate(store, job, "model_a")


def evaluate_model_b(store: Store, job: dict, limits: Limits) -> None:
    """Answer the eval set with model_b."""
    _evaluate(store, job, "model_b")


def _evaluate(store: Store, job: dict, field: str) -> None:
    """Load the model a field names, as a worker would, and answer the eval set with it."""
    mid = job["request"][field]
    agent = registry.builtin(mid) or steps.load_agent(store, job, mid, f"evaluate_{field}")
    steps.evaluate_agent(store, job, agent, ROLES[field])


def compare_models(store: Store, job: dict, limits: Limits) -> dict:
    """Assemble the comparison; the runner ends the job with it."""
    request = job["request"]
    models = {role: request[field] for field, role in ROLES.items()}
    candidate = store.models.meta(request["model_b"]) or {}  # a built-in model never abstains
    abstention = candidate.get("out_of_scope")  # {task, threshold} when model_b abstains
    report = steps.evaluation_report(store, job, request["seed"], abstention)
    return {"models": models, **report}
