"""The new-job page: create a fine-tuning job from a form, or clone one (?from=<job id>).

The form's request is loaded by the API's JobInSchema and created by the same service code as
POST /v1/jobs (model and task checks, quotas); a hidden key makes a second submission of the
same form (a double click, a retried post) answer with the same job instead of another.
"""

import hashlib
import json
import re
import secrets

from flask import redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from tuneloop.agent import registry
from tuneloop.contracts import BASELINE_MODEL_ID
from tuneloop.graph import FINE_TUNING
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.schemas.method import DPO, SUPERVISED
from tuneloop_gateway import idempotency
from tuneloop_gateway.auth import JOBS
from tuneloop_gateway.extensions import project_store
from tuneloop_gateway.jobs_service import create_fine_tuning, get_job_or_404
from tuneloop_gateway.pages import job_form
from tuneloop_gateway.pages.site import bp, page_error, requires

FORM_KEY = "form_key"  # the hidden field holding the form's idempotency key
FORM_KEY_FORMAT = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Empty inputs take the API's defaults; a request without a model had the default model.
NEW_FORM = {"model": BASELINE_MODEL_ID}


def known_task_types() -> list[str]:
    """The project's task types, most common first (a hint beside the task types input)."""
    counts = project_store().interactions.stats()["task_distribution"]
    return sorted(counts, key=lambda t: (-counts[t], t))


def render_form(values: dict, errors: dict, source: dict | None = None, status: int = 200):
    """The form with its values and each input's errors."""
    page = render_template(
        "job_new.html",
        values=values,
        errors=job_form.placed(errors),
        fields=job_form.FIELDS,
        groups=job_form.GROUPS,
        models=sorted(registry.BASE_MODELS, key=lambda m: (m != BASELINE_MODEL_ID, m)),
        methods=(SUPERVISED, DPO),
        metrics=job_form.METRICS,
        rule_rows=job_form.rule_rows(values),
        task_types=known_task_types(),
        source=source,
        not_carried=job_form.not_carried(source["request"]) if source else [],
        form_key=values.get(FORM_KEY) or secrets.token_urlsafe(16),
    )
    return page, status


@bp.get("/jobs/new")
@requires(JOBS)
def job_new() -> object:
    """The empty form, or (?from=<job id>) the form filled from that job's request."""
    source_id = request.args.get("from", "").strip()
    if not source_id:
        return render_form(dict(NEW_FORM), {})
    source = get_job_or_404(source_id)  # 404 page for an unknown or malformed id
    if source["kind"] != FINE_TUNING:
        detail = f"job {source_id} is an {source['kind']} job: only fine-tuning jobs are cloned"
        return page_error(409, "Conflict", detail)
    values = {"model": BASELINE_MODEL_ID, **job_form.from_request(source["request"])}
    return render_form(values, {}, source)


@bp.post("/jobs/new")
@requires(JOBS)
def job_create() -> object:
    """Validate the form as POST /v1/jobs does; create the job and go to its page, or show
    the form again with its values and each field's error (nothing stored)."""
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        loaded = JobInSchema().load(job_form.to_request(values))
    except ValidationError as exc:
        return render_form(values, job_form.flat_errors(exc.normalized_messages()), status=422)
    try:
        answer = create_once(values.get(FORM_KEY, ""), loaded)
    except HTTPException as exc:  # 400 (model, method), 422 (out_of_scope_task), 503
        data = getattr(exc, "data", None) or {}
        errors = data.get("errors") or {"_form": [data.get("message") or exc.description]}
        return render_form(values, job_form.flat_errors(errors), status=exc.code or 400)
    if not isinstance(answer, tuple):  # the project's quota: a 429 problem
        detail = (answer.get_json(silent=True) or {}).get("detail", "too many jobs")
        return render_form(values, {"_form": [detail]}, status=answer.status_code)
    return redirect(url_for("pages.job", job_id=answer[0]["id"]), 303)


def create_once(form_key: str, loaded: dict) -> object:
    """Create the job once per form and request: the same form sent again with the same values
    gets the job it created; changed values (back, edit, send) make a new job."""
    if not FORM_KEY_FORMAT.fullmatch(form_key):
        return create_fine_tuning(loaded)
    digest = hashlib.sha256(json.dumps(loaded, sort_keys=True, default=str).encode()).hexdigest()
    key = f"ui-new-job:{form_key}:{digest[:32]}"
    return idempotency.once(key, lambda: create_fine_tuning(loaded), {"request": loaded})
