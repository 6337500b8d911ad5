"""The jobs list, a job's report page, its live state and its pause, resume and cancel buttons."""

from flask import jsonify, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from marshmallow import ValidationError
from werkzeug.exceptions import Conflict

from tuneloop import contracts
from tuneloop.schemas.jobs import CaseQuerySchema, EventQuerySchema, JobQuerySchema
from tuneloop.stages.compare import CASE_OUTCOMES
from tuneloop.timeutil import now
from tuneloop_gateway.auth import JOBS
from tuneloop_gateway.extensions import project_store
from tuneloop_gateway.jobs_service import (
    cancel_job,
    check_cases_kept,
    get_job_or_404,
    pause_job,
    resume_job,
)
from tuneloop_gateway.pages import charts, report, verdict
from tuneloop_gateway.pages.site import bp, page_error, requires, when

EVENTS_SHOWN = 1000  # enough for every epoch event of a 200-epoch job and its stage events
CASES_SHOWN = 10  # per outcome on the job's page
CASES_PAGE = 25  # per page of /ui/jobs/{id}/cases
NOTICES = {
    "cancelled": "The job was cancelled.",
    "finished": "The job had already finished: nothing was cancelled.",
    "paused": "The job is paused: no stage of it runs until it is resumed.",
    "pausing": "The job pauses at its next stage, epoch or step boundary, with a checkpoint.",
    "resumed": "The job was resumed: it goes on from where it paused.",
    "ended": "The job had already finished: it was neither paused nor resumed.",
}


@bp.app_template_filter("breakable")
def breakable(name: str) -> Markup:
    """Let a long task or metric name wrap after its underscores, never inside a word."""
    return escape(name).replace("_", Markup("_<wbr>"))


@bp.get("/")
@requires(None)
def home() -> object:
    """Send the site's root to the jobs list."""
    return redirect(url_for("pages.jobs"), 303)


@bp.get("/jobs")
@requires(JOBS)
def jobs() -> object:
    """List jobs, newest first, filtered by status and kind, as GET /v1/jobs does."""
    asked = {k: v for k, v in request.args.items() if k in ("status", "kind", "after") and v}
    errors, rows, has_more = {}, [], False
    try:
        query = JobQuerySchema().load({**asked, "limit": 50})
        rows, has_more = project_store().jobs.page(**query)
    except ValidationError as exc:
        errors = exc.normalized_messages()
    except KeyError:
        errors = {"after": [f"no job with id {asked.get('after')!r} to page after"]}
    return render_template(
        "jobs.html",
        jobs=rows,
        summaries={job["id"]: summary_of(job) for job in rows},
        has_more=has_more,
        asked=asked,
        errors=errors,
        statuses=contracts.STATUSES,
        kinds=contracts.KINDS,
    )


def summary_of(job: dict) -> dict:
    """Return what the jobs list shows of a job beside its status: models, metric, verdict."""
    result = job.get("result") or {}
    request = job.get("request") or {}
    return {
        "name": request.get("suffix") or (request.get("metadata") or {}).get("name"),
        "models": verdict.models_of(job),
        "metric": verdict.main_metric(result),
        "verdict": verdict.short_verdict(result) if result else None,
        "duration": verdict.seconds_text(verdict.duration(job, now())),
    }


def loss_panel(job: dict, epochs: list[dict]) -> object:
    """Return the loss chart of a kind that trains in epochs, else None (no loss section)."""
    if not verdict.has_epochs(job["kind"]):
        return None
    best = (job.get("result") or {}).get("best_epoch")
    return charts.loss_panel(epochs, best, report.is_active(job))


@bp.get("/jobs/<job:job_id>")
@requires(JOBS)
def job(job_id: str) -> object:
    """Show a job's report, verdict first: setup, losses, metrics, tasks, confusions, events."""
    job = get_job_or_404(job_id)
    store = project_store()
    events, more_events = store.jobs.events(job_id, limit=EVENTS_SHOWN)
    result = job.get("result") or {}
    epochs = report.epochs_of(job, events)
    cases = {}
    if "cases" in result:
        cases = {o: store.cases.page(job_id, o, CASES_SHOWN)[0] for o in ("regressed", "improved")}
    return render_template(
        "job.html",
        job=job,
        result=result,
        active=report.is_active(job),
        halted=report.is_halted(job),
        duration=verdict.seconds_text(verdict.duration(job, now())),
        models=verdict.models_of(job),
        verdict=verdict.verdict(result),
        hyperparameters=verdict.hyperparameter_rows(job),
        request_rows=verdict.request_rows(job),
        outcomes=CASE_OUTCOMES,
        loss_panel=loss_panel(job, epochs),
        epochs=epochs,
        metric_rows=(rows := report.metric_rows(result)),
        metric_chart=charts.metric_chart(rows),
        task_rows=report.task_rows(result),
        confusions=report.confusion_rows(result),
        calibration=report.calibration_rows(result),
        scope_rows=report.scope_rows(result),
        scope=report.scope_summary(result),
        training=result.get("training_data") or {},
        distribution=report.distribution_rows(result.get("training_data") or {}),
        cases=cases,
        case_counts=result.get("cases") or {},
        events=events,
        more_events=more_events,
        notice=NOTICES.get(request.args.get("notice", "")),
    )


@bp.get("/jobs/<job:job_id>/live.json")
@requires(JOBS)
def job_live_json(job_id: str) -> object:
    """Return the job's status, stage, progress and loss chart, for the page to poll."""
    job = get_job_or_404(job_id)
    events, _ = project_store().jobs.events(job_id, limit=EVENTS_SHOWN)
    epochs = report.epochs_of(job, events)
    panel = loss_panel(job, epochs)
    shown = request.args.get("epochs", type=int)
    try:  # the events after the last one the page shows
        asked = {k: v for k, v in request.args.items() if k == "after"}
        query = EventQuerySchema().load({**asked, "limit": 200})
        new_events, _ = project_store().jobs.events(job_id, **query)
    except ValidationError:
        new_events = []
    return jsonify(
        {
            **report.live_state(job),
            "epochs": len(epochs),
            # Drawn again only when the page shows another number of epochs (?epochs=).
            "loss_chart": None if shown == len(epochs) or panel is None else str(panel),
            "events": [{**e, "when": when(e["created_at"])} for e in new_events],
        }
    )


@bp.post("/jobs/<job:job_id>/cancel")
@requires(JOBS)
def job_cancel(job_id: str) -> object:
    """Cancel the job as POST /v1/jobs/{id}/cancel does, then show its page again."""
    get_job_or_404(job_id)
    notice = "cancelled"
    try:
        cancel_job(job_id)
    except Conflict:  # it had finished meanwhile
        notice = "finished"
    return redirect(url_for("pages.job", job_id=job_id, notice=notice), 303)


@bp.post("/jobs/<job:job_id>/pause")
@requires(JOBS)
def job_pause(job_id: str) -> object:
    """Pause the job as POST /v1/jobs/{id}/pause does, then show its page again."""
    get_job_or_404(job_id)
    try:
        notice = pause_job(job_id)["status"]  # paused, pausing (or paused already)
    except Conflict:  # it had finished meanwhile
        notice = "ended"
    return redirect(url_for("pages.job", job_id=job_id, notice=notice), 303)


@bp.post("/jobs/<job:job_id>/resume")
@requires(JOBS)
def job_resume(job_id: str) -> object:
    """Resume the job as POST /v1/jobs/{id}/resume does, then show its page again."""
    get_job_or_404(job_id)
    notice = "resumed"
    try:
        resume_job(job_id)
    except Conflict:
        notice = "ended"
    return redirect(url_for("pages.job", job_id=job_id, notice=notice), 303)


@bp.get("/jobs/<job:job_id>/cases")
@requires(JOBS)
def job_cases(job_id: str) -> object:
    """List a job's regressed, improved or wrong (the default) cases, a page at a time."""
    job = get_job_or_404(job_id)
    asked = {k: v for k, v in request.args.items() if k in ("outcome", "after", "limit") and v}
    try:
        query = CaseQuerySchema().load({"limit": CASES_PAGE, "outcome": "wrong", **asked})
    except ValidationError as exc:
        fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.normalized_messages().items())
        return page_error(400, "Bad Request", f"invalid fields: {fields}")
    check_cases_kept(job, query["outcome"])
    records, has_more = project_store().cases.page(job_id, **query)
    return render_template(
        "cases.html",
        job=job,
        outcome=query["outcome"],
        outcomes=CASE_OUTCOMES,
        counts=job["result"]["cases"],
        cases=records,
        has_more=has_more,
        after=query.get("after"),
        limit=asked.get("limit"),
    )
