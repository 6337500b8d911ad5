"""Bearer-key authentication for every endpoint but health and docs."""

import hashlib
import hmac

from flask import Flask, current_app, request

from tuneloop_gateway.errors import problem

PUBLIC_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "docs_static"})


def key_digest(key: str) -> bytes:
    """Return the SHA-256 digest of a key; keys are only held and compared as digests."""
    return hashlib.sha256(key.encode()).digest()


def check_bearer() -> object:
    """Reject the request with 401 unless it carries the configured key."""
    endpoint = request.endpoint or ""
    if endpoint in PUBLIC_ENDPOINTS or endpoint.startswith("api-docs."):
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    expected = current_app.extensions["tuneloop"].key_digest
    if (
        scheme.lower() != "bearer"
        or not token
        or not hmac.compare_digest(key_digest(token.strip()), expected)
    ):
        detail = "missing bearer key" if not header else "the bearer key is not valid"
        return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
    return None


def register(app: Flask) -> None:
    """Check the key before every request."""
    app.before_request(check_bearer)
