"""Autopilots: retrain on new ratings or on a schedule, gate, promote, and roll back."""

from flask.views import MethodView
from flask_smorest import abort

from tuneloop.schemas.autopilots import (
    AutopilotDeletedSchema,
    AutopilotInSchema,
    AutopilotPageSchema,
    AutopilotQuerySchema,
    AutopilotSchema,
)
from tuneloop.store.autopilots import ACTIVE, MAX_RUNS, PAUSED, TooManyAutopilots
from tuneloop_gateway import prefixed
from tuneloop_gateway.auth import JOBS, current_key, current_project, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.errors import problem
from tuneloop_gateway.extensions import project_store
from tuneloop_gateway.idempotency import idempotent
from tuneloop_gateway.jobs_service import check_model, check_out_of_scope_task

blp = Blueprint(
    "autopilots",
    __name__,
    url_prefix="/v1/autopilots",
    description="Retrain on new ratings or a schedule, gate, promote, and roll back on its own",
)


def shown(autopilot: dict) -> dict:
    """The autopilot as the API shows it: its ratings since the last run, its runs' status."""
    store = project_store()
    new = store.interactions.ratings_added() - autopilot["ratings_at_last_run"]
    runs = autopilot["runs"]
    if runs and runs[0]["job_id"] == autopilot["in_flight"]:  # the run in flight: live status
        job = store.jobs.get(autopilot["in_flight"])
        runs = [{**runs[0], "status": job["status"] if job else runs[0]["status"]}, *runs[1:]]
    return {**autopilot, "new_ratings": max(new, 0), "runs": runs}


def get_or_404(autopilot_id: str) -> dict:
    """Return the project's autopilot with its kept runs, or answer 404."""
    found = project_store().autopilots.get(autopilot_id, runs=MAX_RUNS)
    if found is None:
        abort(404, message=f"no autopilot with id {autopilot_id!r}")
    return found


@blp.route("")
class Autopilots(MethodView):
    """The project's autopilots."""

    @requires(blp, JOBS)
    @blp.arguments(AutopilotInSchema)
    @blp.response(201, AutopilotSchema)
    @blp.alt_response(400, response="BAD_REQUEST", description="the job names an unknown model")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS", description="too many autopilots")
    @idempotent(blp)
    def post(self, spec: dict) -> dict:
        """Create an autopilot; its ratings are counted from now."""
        check_model(spec["job"])
        check_out_of_scope_task(spec["job"])
        store = project_store()
        try:
            made = store.autopilots.create(
                spec, current_key().name, store.interactions.ratings_added()
            )
        except TooManyAutopilots as exc:
            detail = f"the project {current_project()!r} has {exc.args[0]} autopilots, its limit"
            return problem(429, "Too Many Requests", detail)
        return shown(made)

    @requires(blp, JOBS)
    @blp.arguments(AutopilotQuerySchema, location="query")
    @blp.response(200, AutopilotPageSchema)
    def get(self, query: dict) -> dict:
        """List the project's autopilots, newest first (each without its runs)."""
        store, prefix = project_store().autopilots, query.pop("id_prefix", None)
        try:
            if prefix is None:
                data, has_more = store.page(**query)
            else:
                data, has_more = prefixed.page(store, prefix, query["limit"], store.get)
        except KeyError:
            abort(404, message=f"no autopilot with id {query['after']!r} to page after")
        return {"data": [shown(a) for a in data], "has_more": has_more}


@blp.route("/<autopilot:autopilot_id>")
class Autopilot(MethodView):
    """One autopilot."""

    @requires(blp, JOBS)
    @blp.response(200, AutopilotSchema)
    def get(self, autopilot_id: str) -> dict:
        """Return the autopilot with its runs, newest first."""
        return shown(get_or_404(autopilot_id))

    @requires(blp, JOBS)
    @blp.response(200, AutopilotDeletedSchema)
    def delete(self, autopilot_id: str) -> dict:
        """Delete the autopilot and its history; the jobs it started and their models stay."""
        get_or_404(autopilot_id)
        if not project_store().autopilots.delete(autopilot_id):
            abort(404, message=f"no autopilot with id {autopilot_id!r}")
        return {"id": autopilot_id, "object": "autopilot", "deleted": True}


def set_status(autopilot_id: str, status: str) -> dict:
    """Pause or resume the autopilot (the API's and the pages'); answer 404 for none."""
    get_or_404(autopilot_id)
    if not project_store().autopilots.set_status(autopilot_id, status):
        abort(404, message=f"no autopilot with id {autopilot_id!r}")
    return shown(get_or_404(autopilot_id))


@blp.route("/<autopilot:autopilot_id>/pause")
class AutopilotPause(MethodView):
    """Pausing an autopilot."""

    @requires(blp, JOBS)
    @blp.response(200, AutopilotSchema)
    def post(self, autopilot_id: str) -> dict:
        """Start no runs and roll nothing back (a run in flight carries on, and is recorded)."""
        return set_status(autopilot_id, PAUSED)


@blp.route("/<autopilot:autopilot_id>/resume")
class AutopilotResume(MethodView):
    """Resuming an autopilot."""

    @requires(blp, JOBS)
    @blp.response(200, AutopilotSchema)
    def post(self, autopilot_id: str) -> dict:
        """Start runs again when the trigger is due."""
        return set_status(autopilot_id, ACTIVE)
