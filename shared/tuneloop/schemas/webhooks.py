"""Schemas of webhook endpoints and their deliveries."""

import json

from marshmallow import Schema, ValidationError, fields, validate

from tuneloop.contracts import DELIVERY_STATUSES
from tuneloop.schemas.common import FullMatch, IdPrefixQuery, limit_field, text
from tuneloop.store import ids
from tuneloop.webhooks.events import EVENT_TYPES, EVERY
from tuneloop.webhooks.targets import MAX_URL

MAX_DESCRIPTION = 512
EVENT_CHOICES = (*EVENT_TYPES, EVERY)


def unique(values: list[str]) -> None:
    """Refuse a list that names one value twice."""
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:
        raise ValidationError(f"names {', '.join(map(repr, twice))} more than once")


class WebhookInSchema(Schema):
    """A new endpoint: where to POST, and which events."""

    url = fields.String(
        required=True,
        validate=validate.Length(1, MAX_URL),
        metadata={
            "description": "an http(s) URL of a public address (private, loopback and "
            "link-local targets only with TUNELOOP_WEBHOOK_ALLOW_PRIVATE)"
        },
    )
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENT_CHOICES)),
        required=True,
        validate=[validate.Length(1, len(EVENT_CHOICES)), unique],
        metadata={"description": "the event types to send, or '*' for every type"},
    )
    description = text(MAX_DESCRIPTION, load_default=None, allow_none=True)


class WebhookSchema(Schema):
    """An endpoint as listed and read (its secret is shown only when it is created)."""

    id = fields.String(required=True)
    object = fields.Constant("webhook_endpoint", required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    description = fields.String(required=True, allow_none=True)
    created_at = fields.Integer(required=True)


class WebhookCreatedSchema(WebhookSchema):
    """A new endpoint, with its signing secret: shown in this answer only."""

    secret = fields.String(
        required=True,
        metadata={
            "description": "whsec_ and the base64 of 32 random bytes: verify each delivery "
            "with standardwebhooks.Webhook(secret).verify(body, headers); shown only here"
        },
    )


class WebhookQuerySchema(IdPrefixQuery):
    """Cursor of the endpoint list (newest first), or its id prefix."""

    limit = limit_field()
    after = fields.String(validate=FullMatch(ids.WEBHOOK.anchored))


class WebhookPageSchema(Schema):
    """One page of endpoints."""

    object = fields.Constant("list")
    data = fields.List(fields.Nested(WebhookSchema), required=True)
    has_more = fields.Boolean(required=True)


class WebhookDeletedSchema(Schema):
    """What deleting an endpoint answers."""

    id = fields.String(required=True)
    object = fields.Constant("webhook_endpoint", required=True)
    deleted = fields.Constant(True, required=True)


class WebhookAttemptSchema(Schema):
    """One attempt of a delivery."""

    at = fields.Integer(required=True)
    status_code = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    response = fields.String(required=True, metadata={"description": "the answer's first bytes"})
    duration_ms = fields.Integer(required=True)


class WebhookDeliverySchema(Schema):
    """One event's delivery to an endpoint: its status, attempts and the last answer."""

    id = fields.String(required=True)
    object = fields.Constant("webhook.delivery", required=True)
    webhook_id = fields.String(required=True)
    event_id = fields.String(required=True, metadata={"description": "also the webhook-id header"})
    event_type = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(DELIVERY_STATUSES)})
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.Integer(
        required=True, allow_none=True, metadata={"description": "null once it has ended"}
    )
    last_attempt_at = fields.Integer(required=True, allow_none=True)
    last_status_code = fields.Integer(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)
    last_response = fields.String(
        required=True, allow_none=True, metadata={"description": "the last answer's first bytes"}
    )
    attempt_log = fields.List(
        fields.Nested(WebhookAttemptSchema),
        required=True,
        metadata={"description": "the newest attempts, oldest first"},
    )
    created_at = fields.Integer(required=True)
    updated_at = fields.Integer(required=True)
    payload = fields.Method("event", required=True, metadata={"type": "object"})

    def event(self, delivery: dict) -> dict:
        """The event as sent: the body's JSON."""
        return json.loads(delivery["body"])


class WebhookDeliveryQuerySchema(Schema):
    """Cursor of an endpoint's deliveries (newest first)."""

    limit = limit_field()
    after = fields.String(validate=FullMatch(ids.DELIVERY.anchored))


class WebhookDeliveryPageSchema(Schema):
    """One page of deliveries."""

    object = fields.Constant("list")
    data = fields.List(fields.Nested(WebhookDeliverySchema), required=True)
    has_more = fields.Boolean(required=True)
