"""Rated interactions: post one, post a batch, list, count; read, edit, score, delete one."""

import logging
from collections.abc import Callable
from typing import NoReturn

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE
from redis.exceptions import RedisError

from tuneloop.schemas.interactions import (
    MAX_SCORE_NAMES,
    BatchCreatedSchema,
    DeletedSchema,
    InteractionBatchInSchema,
    InteractionEventPageSchema,
    InteractionEventQuerySchema,
    InteractionInSchema,
    InteractionPageSchema,
    InteractionPatchSchema,
    InteractionQuerySchema,
    InteractionSchema,
    InteractionStatsSchema,
    ScoreInSchema,
)
from tuneloop.store.interactions import EditConflictError
from tuneloop.timeutil import now
from tuneloop_gateway.auth import INGEST, current_key, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.extensions import project_store
from tuneloop_gateway.idempotency import idempotent
from tuneloop_gateway.limits import counted_in_store, deferred

log = logging.getLogger(__name__)
RETRY = {"Retry-After": "1"}
blp = Blueprint(
    "interactions",
    __name__,
    url_prefix="/v1/interactions",
    description="Interactions rated by people",
)


@blp.route("")
class Interactions(MethodView):
    """The collection of interactions."""

    @counted_in_store
    @requires(blp, INGEST)
    @blp.arguments(InteractionInSchema)
    @blp.response(201, InteractionSchema)
    @idempotent(blp)
    def post(self, item: dict) -> dict:
        """Store one rated interaction."""
        return project_store().interactions.add_many([item], limit=deferred())[0]

    @requires(blp, INGEST)
    @blp.arguments(InteractionQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, InteractionPageSchema)
    @blp.alt_response(400, response="BAD_REQUEST", description="an unknown query parameter")
    def get(self, query: dict) -> dict:
        """List interactions, oldest first, after an optional cursor, that pass every filter.

        Text search, rating, named score, source and date filters test each record of the
        narrowest index (the model's, else the task type's, else all) in creation order; one
        request reads at most 10,000 records, so a rare match may answer a short page with
        has_more: follow next_after. An unknown parameter is refused (400).
        """
        return list_page(query)


def list_page(query: dict) -> dict:
    """One page of the interaction list as the API answers it; 404 for an unknown cursor."""
    try:
        data, cursor = project_store().interactions.page(**query)
    except KeyError:
        abort(404, message=f"no interaction with id {query['after']!r} to page after")
    page = {"data": data, "has_more": cursor is not None}
    return {**page, "next_after": cursor} if cursor else page


@blp.route("/batch")
class InteractionBatch(MethodView):
    """A batch of interactions."""

    @counted_in_store
    @requires(blp, INGEST)
    @blp.arguments(InteractionBatchInSchema)
    @blp.response(201, BatchCreatedSchema)
    @idempotent(blp)
    def post(self, batch: dict) -> dict:
        """Store up to 1,000 interactions all together; one bad item stores none."""
        records = project_store().interactions.add_many(batch["items"], limit=deferred())
        return {"count": len(records), "ids": [r["id"] for r in records]}


@blp.route("/stats")
class InteractionStats(MethodView):
    """Counts over all interactions."""

    @requires(blp, INGEST)
    @blp.response(200, InteractionStatsSchema)
    def get(self) -> dict:
        """Return the count, task distribution and rating histogram."""
        return project_store().interactions.stats()


def missing(iid: str) -> NoReturn:
    """Answer 404 naming the interaction."""
    abort(404, message=f"no interaction with id {iid!r}")


def get_or_404(iid: str) -> dict:
    """Return the interaction's current version or answer 404."""
    record = project_store().interactions.get(iid)
    if record is None:
        missing(iid)
    return record


def audit(kind: str) -> dict:
    """The part of an audit event that says what happened and who did it."""
    return {"type": f"interaction.{kind}", "actor": current_key().name}


def edit(iid: str, change: Callable[[dict], dict], kind: str) -> dict:
    """Write change as the interaction's new version, reclaim what no job needs, answer it."""
    store = project_store()
    try:
        record = store.interactions.update(iid, change, audit(kind))
    except EditConflictError:
        abort(409, message=f"interaction {iid!r} kept changing; retry", headers=RETRY)
    if record is None:
        missing(iid)
    reclaim()
    return record


def reclaim() -> None:
    """Drop old versions no queued or running job holds; the change is stored either way."""
    try:
        project_store().reclaim_versions()
    except RedisError as exc:  # the next write or job end reclaims them
        log.warning("old interaction versions not reclaimed: %s", exc)


@blp.route("/<interaction:interaction_id>")
class Interaction(MethodView):
    """One interaction, as it is now."""

    @requires(blp, INGEST)
    @blp.response(200, InteractionSchema)
    def get(self, interaction_id: str) -> dict:
        """Return the interaction as it is now, with its scores."""
        return get_or_404(interaction_id)

    @requires(blp, INGEST)
    @blp.arguments(InteractionPatchSchema)
    @blp.response(200, InteractionSchema)
    @blp.alt_response(409, response="CONFLICT", description="edited concurrently too often")
    @idempotent(blp)
    def patch(self, changes: dict, interaction_id: str) -> dict:
        """Change the rating, task type or metadata; running jobs keep the version they read."""
        return edit(interaction_id, lambda record: {**record, **changes}, "updated")

    @requires(blp, INGEST)
    @blp.response(200, DeletedSchema)
    @blp.alt_response(409, response="CONFLICT", description="edited concurrently too often")
    @idempotent(blp)
    def delete(self, interaction_id: str) -> dict:
        """Delete the interaction: later jobs never see it; running jobs keep their snapshot."""
        store = project_store()
        try:
            deleted = store.interactions.delete(interaction_id, audit("deleted"))
        except EditConflictError:
            abort(409, message="the interaction kept changing; retry", headers=RETRY)
        if not deleted:
            missing(interaction_id)
        reclaim()
        return {"id": interaction_id}


@blp.route("/<interaction:interaction_id>/scores")
class InteractionScores(MethodView):
    """Named scores given to an interaction after the fact."""

    @requires(blp, INGEST)
    @blp.arguments(ScoreInSchema)
    @blp.response(201, InteractionSchema)
    @blp.alt_response(409, response="CONFLICT", description="edited concurrently too often")
    @idempotent(blp)
    def post(self, score: dict, interaction_id: str) -> dict:
        """Add a named score (a new value of a name replaces the old); answer the interaction."""
        entry = {"comment": None, **score, "created_at": now()}
        try:
            return edit(interaction_id, lambda record: with_score(record, entry), "scored")
        except TooManyScoresError:
            message = f"the interaction already has {MAX_SCORE_NAMES} score names, the limit"
            abort(422, message=f"invalid field name: {message}", errors={"name": [message]})


class TooManyScoresError(ValueError):
    """A new score name would pass MAX_SCORE_NAMES."""


def with_score(record: dict, entry: dict) -> dict:
    """Return record with entry as its score of that name (replacing an older one)."""
    others = [s for s in record.get("scores", []) if s["name"] != entry["name"]]
    if len(others) >= MAX_SCORE_NAMES:
        raise TooManyScoresError(entry["name"])
    return {**record, "scores": [*others, entry]}


@blp.route("/<interaction:interaction_id>/events")
class InteractionEvents(MethodView):
    """An interaction's audit log: every edit, score and delete, who made it and when."""

    @requires(blp, INGEST)
    @blp.arguments(InteractionEventQuerySchema, location="query")
    @blp.response(200, InteractionEventPageSchema)
    def get(self, query: dict, interaction_id: str) -> dict:
        """List the changes, oldest first (kept after a delete, for 30 days)."""
        store = project_store().interactions
        if store.get(interaction_id) is None and not store.has_events(interaction_id):
            missing(interaction_id)
        data, has_more = store.events(interaction_id, **query)
        return {"data": data, "has_more": has_more}
