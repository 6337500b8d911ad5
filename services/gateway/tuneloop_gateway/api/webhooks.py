"""Webhook endpoints: create (the secret shown once), list, read, delete; their deliveries.

Every route needs the admin scope: an endpoint decides where the project's events go.
"""

from typing import NoReturn

from flask.views import MethodView
from flask_smorest import abort

from tuneloop.schemas.webhooks import (
    WebhookCreatedSchema,
    WebhookDeletedSchema,
    WebhookDeliveryPageSchema,
    WebhookDeliveryQuerySchema,
    WebhookDeliverySchema,
    WebhookInSchema,
    WebhookPageSchema,
    WebhookQuerySchema,
    WebhookSchema,
)
from tuneloop.store.webhook_deliveries import DeliveryBusy
from tuneloop.store.webhooks import WebhookQuotaExceeded
from tuneloop.webhooks import targets
from tuneloop_gateway import prefixed
from tuneloop_gateway.auth import ADMIN, current_project, requires
from tuneloop_gateway.blueprint import Blueprint
from tuneloop_gateway.errors import problem
from tuneloop_gateway.extensions import project_store, services

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/v1/webhooks",
    description="Signed webhooks: where the project's events are sent, and each delivery",
)


def no_webhook(webhook_id: str) -> NoReturn:
    """Answer 404 naming the endpoint."""
    abort(404, message=f"no webhook with id {webhook_id!r}")


def get_webhook_or_404(webhook_id: str) -> dict:
    """Return the endpoint's record or answer 404."""
    record = project_store().webhooks.get(webhook_id)
    if record is None:
        no_webhook(webhook_id)
    return record


@blp.route("")
class Webhooks(MethodView):
    """The project's endpoints."""

    @requires(blp, ADMIN)
    @blp.arguments(WebhookInSchema)
    @blp.response(201, WebhookCreatedSchema)
    def post(self, body: dict) -> object:
        """Create an endpoint; its signing secret is in this answer only."""
        settings = services().settings
        try:
            targets.check(body["url"], settings.webhook_allow_private)
        except targets.TargetRefusedError as exc:
            message = f"the url {exc}"
            abort(422, message=f"invalid field url: {message}", errors={"url": [message]})
        try:
            return project_store().webhooks.create(
                body["url"], body["events"], body["description"], settings.webhook_max_endpoints
            )
        except WebhookQuotaExceeded as exc:
            detail = (
                f"the project {current_project()!r} has {exc.limit} webhook endpoint(s), its "
                "limit (TUNELOOP_WEBHOOK_MAX_ENDPOINTS): delete one first"
            )
            return problem(429, "Too Many Requests", detail)

    @requires(blp, ADMIN)
    @blp.arguments(WebhookQuerySchema, location="query")
    @blp.response(200, WebhookPageSchema)
    def get(self, query: dict) -> dict:
        """List the project's endpoints, newest first."""
        store, prefix = project_store().webhooks, query.pop("id_prefix", None)
        try:
            if prefix is None:
                data, has_more = store.page(**query)
            else:
                data, has_more = prefixed.page(store, prefix, query["limit"], store.get)
        except KeyError:
            no_webhook(query["after"])
        return {"data": data, "has_more": has_more}


@blp.route("/<webhook:webhook_id>")
class Webhook(MethodView):
    """One endpoint."""

    @requires(blp, ADMIN)
    @blp.response(200, WebhookSchema)
    def get(self, webhook_id: str) -> dict:
        """Describe one endpoint (without its secret)."""
        return get_webhook_or_404(webhook_id)

    @requires(blp, ADMIN)
    @blp.response(200, WebhookDeletedSchema)
    def delete(self, webhook_id: str) -> dict:
        """Delete an endpoint with its deliveries: nothing more is sent to it."""
        if not project_store().webhooks.delete(webhook_id):
            no_webhook(webhook_id)
        return {"id": webhook_id, "deleted": True}


@blp.route("/<webhook:webhook_id>/deliveries")
class Deliveries(MethodView):
    """An endpoint's deliveries."""

    @requires(blp, ADMIN)
    @blp.arguments(WebhookDeliveryQuerySchema, location="query")
    @blp.response(200, WebhookDeliveryPageSchema)
    def get(self, query: dict, webhook_id: str) -> dict:
        """List an endpoint's deliveries, newest first: status, attempts, the last answer."""
        get_webhook_or_404(webhook_id)
        try:
            data, has_more = project_store().webhooks.deliveries(webhook_id, **query)
        except KeyError:
            abort(404, message=f"no delivery with id {query['after']!r} to page after")
        return {"data": data, "has_more": has_more}


@blp.route("/<webhook:webhook_id>/deliveries/<delivery:delivery_id>/redeliver")
class Redeliver(MethodView):
    """Send one delivery again."""

    @requires(blp, ADMIN)
    @blp.response(202, WebhookDeliverySchema)
    @blp.alt_response(409, response="CONFLICT", description="an attempt of it is under way")
    def post(self, webhook_id: str, delivery_id: str) -> dict:
        """Send a delivery again at once: one more attempt for one that has ended, the next
        attempt now for one still retrying."""
        try:
            again = project_store().webhooks.redeliver(webhook_id, delivery_id)
        except DeliveryBusy:
            abort(409, message=f"an attempt of delivery {delivery_id} is under way; retry soon")
        if again is None:
            get_webhook_or_404(webhook_id)
            abort(404, message=f"no delivery with id {delivery_id!r}")
        return again
