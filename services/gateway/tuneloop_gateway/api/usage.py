"""What the calling key's project stores, against its byte budget."""

from flask.views import MethodView

from tuneloop.schemas.usage import ProjectUsageSchema
from tuneloop.store.budget import KINDS
from tuneloop_gateway.auth import INGEST, current_project, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.extensions import project_store, services

blp = Blueprint(
    "usage",
    __name__,
    url_prefix="/v1/usage",
    description="The project's stored bytes and counts, and its byte budget",
)


@blp.route("")
class Usage(MethodView):
    """The project's usage."""

    @requires(blp, INGEST)
    @blp.response(200, ProjectUsageSchema)
    def get(self) -> dict:
        """Return the project's stored bytes in all and per kind, its counts and its budget."""
        store = project_store()
        found = store.usage()
        budget = services().settings.max_project_bytes
        return {
            "project": current_project(),
            "bytes": found["bytes"],
            "budget_bytes": budget or None,
            "by_kind": {kind: found[kind] for kind in KINDS},
            "jobs": store.jobs.count(),
        }
