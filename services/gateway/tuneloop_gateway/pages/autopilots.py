"""The autopilots list and an autopilot's history: its runs, verdicts, promotions, rollbacks."""

from flask import redirect, render_template, request, url_for

from tuneloop.store.autopilots import ACTIVE, PAUSED
from tuneloop_gateway.api.autopilots import get_or_404, set_status, shown
from tuneloop_gateway.auth import JOBS
from tuneloop_gateway.extensions import project_store
from tuneloop_gateway.pages.site import bp, requires

NOTICES = {"paused": "The autopilot is paused.", "active": "The autopilot is active again."}


@bp.get("/autopilots")
@requires(JOBS)
def autopilots() -> object:
    """List the project's autopilots, newest first."""
    after = request.args.get("after") or None
    try:
        rows, has_more = project_store().autopilots.page(50, after)
    except KeyError:
        rows, has_more = [], False
    return render_template(
        "autopilots.html", autopilots=[shown(a) for a in rows], has_more=has_more
    )


@bp.get("/autopilots/<autopilot:autopilot_id>")
@requires(JOBS)
def autopilot(autopilot_id: str) -> object:
    """Show an autopilot's rules and its runs, newest first."""
    found = shown(get_or_404(autopilot_id))
    notice = NOTICES.get(request.args.get("notice", ""))
    return render_template("autopilot.html", autopilot=found, notice=notice)


@bp.post("/autopilots/<autopilot:autopilot_id>/pause")
@requires(JOBS)
def autopilot_pause(autopilot_id: str) -> object:
    """Pause the autopilot as the API does, then show its page again."""
    return _set(autopilot_id, PAUSED)


@bp.post("/autopilots/<autopilot:autopilot_id>/resume")
@requires(JOBS)
def autopilot_resume(autopilot_id: str) -> object:
    """Resume the autopilot as the API does, then show its page again."""
    return _set(autopilot_id, ACTIVE)


def _set(autopilot_id: str, status: str) -> object:
    set_status(autopilot_id, status)
    return redirect(url_for("pages.autopilot", autopilot_id=autopilot_id, notice=status), 303)
