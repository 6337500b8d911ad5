"""Two finished jobs compared: GET /v1/jobs/{a}/compare?with={b} (the page and the CLI use it)."""

from flask.views import MethodView
from flask_smorest import abort

from tuneloop.schemas.comparison import ComparisonQuerySchema, JobComparisonSchema
from tuneloop_gateway.auth import JOBS, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.compare_service import ComparisonError, comparison
from tuneloop_gateway.extensions import project_store

blp = Blueprint("comparisons", __name__, url_prefix="/v1/jobs", description="Two jobs compared")
FIELDS = {"a": "job_id", "b": "with"}  # the comparison's sides as the request names them


@blp.route("/<job:job_id>/compare")
class JobComparison(MethodView):
    """Job A (the path) compared with job B (?with=)."""

    @requires(blp, JOBS)
    @blp.arguments(ComparisonQuerySchema, location="query")
    @blp.response(200, JobComparisonSchema)
    @blp.alt_response(404, response="NOT_FOUND", description="no job A, or no job B")
    @blp.alt_response(409, response="CONFLICT", description="a job has no result yet")
    def get(self, query: dict, job_id: str) -> dict:
        """Compare two finished jobs: loss curves, configuration differences, metric changes
        (B minus A) with 95% intervals, per-task changes, and the cases one got right and the
        other wrong."""
        try:
            return comparison(project_store(), job_id, query["with_"])
        except ComparisonError as exc:
            field = FIELDS[exc.field]
            abort(exc.status, message=exc.message, errors={field: [exc.message]})
