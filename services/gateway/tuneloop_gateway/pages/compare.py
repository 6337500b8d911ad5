"""The compare page: two finished jobs side by side, from GET /v1/jobs/{a}/compare's work."""

from flask import redirect, render_template, request, url_for

from tuneloop.store import ids
from tuneloop_gateway import checks
from tuneloop_gateway.auth import JOBS
from tuneloop_gateway.compare_service import ComparisonError, comparison
from tuneloop_gateway.extensions import project_store
from tuneloop_gateway.pages.compare_charts import compare_legend, compare_loss_chart
from tuneloop_gateway.pages.site import bp, requires

FIELDS = ("a", "b")
CANDIDATES_SHOWN = 10


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
    whole = {f: whole_id(v) for f, v in asked.items()}
    if whole != asked and all(isinstance(v, str) for v in whole.values()):
        return redirect(url_for("pages.compare", **whole), 303)  # short ids: the whole ids
    errors = {f: [v[0]] for f, v in whole.items() if isinstance(v, tuple)}
    if errors:
        return render_template("compare.html", asked=asked, errors=errors, comparison=None), 300
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


def whole_id(text: str) -> str | tuple[str]:
    """The job id a field names (a whole id, or a unique prefix); a 1-tuple message if not."""
    if checks.is_id(ids.JOB, text):
        return text
    matches = project_store().jobs.with_prefix(text, CANDIDATES_SHOWN)
    if matches.unique is not None:
        return matches.unique
    if matches.cut_short:  # the index is larger than one lookup searches: never told unique
        return (f"{text!r} cannot be told unique among this project's jobs: give the whole id",)
    if matches.total > 1:
        count = f"{matches.total}{'' if matches.counted_all else '+'}"
        newest = matches.complete and len(matches.ids) < matches.total
        more = f", the newest {len(matches.ids)}" if newest else ""
        listed = ", ".join(matches.ids)
        return (f"{text!r} starts {count} job ids{more}: {listed}",)
    return text  # no match: the comparison answers 404 naming the field
