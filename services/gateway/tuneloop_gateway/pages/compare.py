"""The compare page: two finished jobs side by side, from GET /v1/jobs/{a}/compare's work."""

from flask import render_template, request

from tuneloop_gateway.auth import JOBS
from tuneloop_gateway.compare_service import ComparisonError, comparison
from tuneloop_gateway.extensions import project_store
from tuneloop_gateway.pages.compare_charts import compare_legend, compare_loss_chart
from tuneloop_gateway.pages.site import bp, requires

FIELDS = ("a", "b")


@bp.get("/compare")
@requires(JOBS)
def compare() -> object:
    """Show the form for two job ids, and their comparison once both name finished jobs.

    A job that is not the project's answers 404, one without a result 409: the form again,
    with the error under the field that names it.
    """
    asked = {f: request.args.get(f, "").strip() for f in FIELDS}
    if not all(asked.values()):  # a form to complete (200), as the jobs list's filters
        # A field sent empty is named; one not sent (a link with ?a= only) just waits.
        errors = {f: ["Enter a job id."] for f in FIELDS if f in request.args and not asked[f]}
        return render_template("compare.html", asked=asked, errors=errors, comparison=None)
    try:
        found = comparison(project_store(), asked["a"], asked["b"])
    except ComparisonError as exc:
        errors = {exc.field: [exc.message]}
        return render_template(
            "compare.html", asked=asked, errors=errors, comparison=None
        ), exc.status
    return render_template(
        "compare.html",
        asked=asked,
        errors={},
        comparison=found,
        chart=compare_loss_chart(found["loss_curves"]),
        legend=compare_legend(),
    )
