"""Rated interactions: post one, post a batch, list, count."""

from flask.views import MethodView
from flask_smorest import abort

from tuneloop.schemas.interactions import (
    BatchCreatedSchema,
    InteractionBatchInSchema,
    InteractionInSchema,
    InteractionPageSchema,
    InteractionQuerySchema,
    InteractionSchema,
    InteractionStatsSchema,
)
from tuneloop_gateway.auth import INGEST, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.extensions import services
from tuneloop_gateway.idempotency import idempotent

blp = Blueprint(
    "interactions",
    __name__,
    url_prefix="/v1/interactions",
    description="Interactions rated by people",
)


@blp.route("")
class Interactions(MethodView):
    """The collection of interactions."""

    @requires(blp, INGEST)
    @blp.arguments(InteractionInSchema)
    @blp.response(201, InteractionSchema)
    @idempotent(blp)
    def post(self, item: dict) -> dict:
        """Store one rated interaction."""
        return services().store.interactions.add_many([item])[0]

    @requires(blp, INGEST)
    @blp.arguments(InteractionQuerySchema, location="query")
    @blp.response(200, InteractionPageSchema)
    def get(self, query: dict) -> dict:
        """List interactions, oldest first, after an optional cursor."""
        try:
            data, has_more = services().store.interactions.page(**query)
        except KeyError:
            abort(404, message=f"no interaction with id {query['after']!r} to page after")
        return {"data": data, "has_more": has_more}


@blp.route("/batch")
class InteractionBatch(MethodView):
    """A batch of interactions."""

    @requires(blp, INGEST)
    @blp.arguments(InteractionBatchInSchema)
    @blp.response(201, BatchCreatedSchema)
    @idempotent(blp)
    def post(self, batch: dict) -> dict:
        """Store up to 1,000 interactions all together; one bad item stores none."""
        records = services().store.interactions.add_many(batch["items"])
        return {"count": len(records), "ids": [r["id"] for r in records]}


@blp.route("/stats")
class InteractionStats(MethodView):
    """Counts over all interactions."""

    @requires(blp, INGEST)
    @blp.response(200, InteractionStatsSchema)
    def get(self) -> dict:
        """Return the count, task distribution and rating histogram."""
        return services().store.interactions.stats()
