"""Evaluations: stored models answer an eval set on the workers, without training."""

from flask.views import MethodView

from tuneloop.graph import EVALUATION, progress_total
from tuneloop.schemas.evaluations import EvaluationInSchema
from tuneloop.schemas.jobs import JobSchema
from tuneloop_gateway.auth import JOBS, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.extensions import project_store
from tuneloop_gateway.idempotency import idempotent
from tuneloop_gateway.jobs_service import create_and_queue, invalid

blp = Blueprint(
    "evaluations",
    __name__,
    url_prefix="/v1/evaluations",
    description="Evaluate or compare stored models; each evaluation is a job (GET /v1/jobs/{id})",
)


def resolve(field: str, name: str) -> str:
    """Return the model id a name (id or alias) stands for now, or answer 422."""
    mid = project_store().models.resolve(name)
    if mid is None:
        invalid(field, f"no model or alias named {name!r}")
    return mid


@blp.route("")
class Evaluations(MethodView):
    """Evaluation jobs."""

    @requires(blp, JOBS)
    @blp.arguments(EvaluationInSchema)
    @blp.response(202, JobSchema)
    @blp.alt_response(
        503,
        response="SERVICE_UNAVAILABLE",
        description="the broker refused the job: nothing was stored",
    )
    @idempotent(blp)
    def post(self, request: dict) -> tuple:
        """Evaluate model against the baseline, or model_b against model_a, on eval_set.

        Aliases are resolved now: the job evaluates the models they named at creation. Poll
        the job at the Location header; its result has the fine-tuning report's shape (model_a
        as baseline, model_b as fine_tuned), its regressions are at /v1/jobs/{id}/cases.
        """
        named = {field: request[field] for field in ("model_a", "model_b")}
        resolved = {field: resolve(field, name) for field, name in named.items()}
        if resolved["model_a"] == resolved["model_b"]:
            invalid("model_b", f"{named['model_b']!r} is {resolved['model_a']!r}, model_a itself")
        aliases = {f: named[f] for f in named if named[f] != resolved[f]}
        request = {**request, **resolved, **({"aliases": aliases} if aliases else {})}
        return create_and_queue(request, EVALUATION, progress_total(0, EVALUATION))
