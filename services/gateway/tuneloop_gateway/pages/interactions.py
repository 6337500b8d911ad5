"""The interactions list with its filters, and one interaction: versions, audit trail, edit."""

import contextlib

from flask import redirect, render_template, request, url_for
from marshmallow import EXCLUDE, ValidationError

from tuneloop.contracts import SOURCES
from tuneloop.schemas.interactions import InteractionPatchSchema, InteractionQuerySchema
from tuneloop_gateway.api.interactions import edit, get_or_404, list_page
from tuneloop_gateway.auth import INGEST
from tuneloop_gateway.extensions import project_store
from tuneloop_gateway.pages.site import bp, requires

PAGE = 50  # interactions a list page shows
EVENTS_SHOWN = 100  # an interaction keeps at most 100 audit events (store.MAX_EVENTS)
FILTERS = (
    "q",
    "task_type",
    "min_rating",
    "max_rating",
    "score",
    "min_score",
    "max_score",
    "source",
    "created_after",
    "created_before",
    "model",
)
NOTICES = {
    "saved": "Saved: the interaction has a new version.",
    "unchanged": "Nothing changed: the values were the ones it had.",
}
EDITABLE = ("rating", "task_type")


@bp.get("/interactions")
@requires(INGEST)
def interactions() -> object:
    """List interactions that pass the filter form's fields, as GET /v1/interactions does."""
    asked = {k: v.strip() for k, v in request.args.items() if k in FILTERS and v.strip()}
    cursor = {"after": after} if (after := request.args.get("after")) else {}
    errors, page = {}, {"data": [], "has_more": False}
    try:  # the cursor is checked as the API checks it: a bad one is its field's error
        query = InteractionQuerySchema().load({**asked, **cursor, "limit": PAGE}, unknown=EXCLUDE)
        page = list_page(query)
    except ValidationError as exc:
        errors = exc.normalized_messages()
    tasks = sorted(project_store().interactions.stats()["task_distribution"])
    return render_template(
        "interactions.html",
        rows=page["data"],
        next_after=page.get("next_after"),
        asked=asked,
        errors=errors,
        tasks=tasks,
        sources=SOURCES,
    )


@bp.get("/interactions/<interaction:interaction_id>")
@requires(INGEST)
def interaction(interaction_id: str) -> object:
    """Show the interaction, its scores, its versions and its audit trail, and the edit form."""
    return _page(interaction_id, notice=NOTICES.get(request.args.get("notice", "")))


@bp.post("/interactions/<interaction:interaction_id>/edit")
@requires(INGEST)
def interaction_edit(interaction_id: str) -> object:
    """Change the rating or task type as PATCH /v1/interactions/{id} does; 303 to its page."""
    before = get_or_404(interaction_id)
    form = {k: request.form.get(k, "").strip() for k in EDITABLE}
    try:
        changes = InteractionPatchSchema().load(_typed(form))
    except ValidationError as exc:
        return _page(interaction_id, form=form, errors=exc.normalized_messages()), 422
    after = edit(interaction_id, lambda record: {**record, **changes}, "updated")
    notice = "saved" if after != before else "unchanged"
    return redirect(url_for("pages.interaction", interaction_id=interaction_id, notice=notice), 303)


def _typed(form: dict) -> dict:
    """The form's fields as the API's JSON would hold them: the rating a number when it is one."""
    with contextlib.suppress(ValueError):  # else the schema names it: "Not a valid number."
        return {**form, "rating": float(form["rating"])}
    return form


def _page(
    interaction_id: str,
    form: dict | None = None,
    errors: dict | None = None,
    notice: str | None = None,
) -> str:
    record = get_or_404(interaction_id)
    events, more = project_store().interactions.events(interaction_id, limit=EVENTS_SHOWN)
    return render_template(
        "interaction.html",
        record=record,
        versions=versions_of(record, events),
        events=events,
        more_events=more,
        form=form or {k: record[k] for k in EDITABLE},
        errors=errors or {},
        notice=notice,
    )


def versions_of(record: dict, events: list[dict]) -> list[dict]:
    """The interaction's versions, newest first: each edit or score wrote one."""
    found = [{"number": 1, "at": record["created_at"], "actor": None, "changes": {}}]
    for event in events:
        if event["type"] in ("interaction.updated", "interaction.scored"):
            found.append(
                {
                    "number": len(found) + 1,
                    "at": event["created_at"],
                    "actor": event["actor"],
                    "changes": event["changes"],
                }
            )
    return found[::-1]
