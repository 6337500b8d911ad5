"""The gateway's app factory."""

import dataclasses
import logging
from collections.abc import Mapping

from flask import Blueprint, Flask, request
from flask_smorest import Api
from redis.exceptions import RedisError

from tuneloop.agent import registry
from tuneloop.llm import kind
from tuneloop.logs import configure_logging
from tuneloop.schemas.common import ProblemSchema
from tuneloop.settings import Settings
from tuneloop.store import Store, projects
from tuneloop.store.budget import Budget
from tuneloop_gateway import auth, errors, id_params, limits, metrics, openapi, pages, request_id
from tuneloop_gateway.api import (
    autopilots,
    comparisons,
    downloads,
    evaluations,
    health,
    interactions,
    jobs,
    models,
    usage,
    webhooks,
)
from tuneloop_gateway.compat import chat as openai_chat
from tuneloop_gateway.compat import errors as openai_errors
from tuneloop_gateway.compat import files as openai_files
from tuneloop_gateway.compat import fine_tuning
from tuneloop_gateway.compat.schemas import OpenAIErrorSchema
from tuneloop_gateway.docs import add_docs_rules
from tuneloop_gateway.errors import PROBLEM_JSON, problem
from tuneloop_gateway.extensions import Services, build_celery, send_webhooks, services
from tuneloop_gateway.lane import HotLane
from tuneloop_gateway.pages import short_ids
from tuneloop_gateway.uploads import UploadRequest

log = logging.getLogger(__name__)
DEFAULTS = {
    "API_TITLE": "Tuneloop",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    # Swagger UI 5 (renders OpenAPI 3.1) at /docs (see docs.py); each operation shows its
    # operationId, and no validator badge sends the document's URL to a third party.
    "OPENAPI_SWAGGER_UI_CONFIG": {
        "displayOperationId": True,
        "deepLinking": True,
        "validatorUrl": None,
    },
    "API_SPEC_OPTIONS": {
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    },
}


class TuneloopApi(Api):
    """flask-smorest's Api, documenting errors as problem details."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        """Document every error response as application/problem+json."""
        default = self.DEFAULT_RESPONSE_CONTENT_TYPE
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_JSON
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = default

    def _register_swagger_ui_rule(self, blueprint: Blueprint) -> None:
        """Serve /docs from our page, which runs under a CSP without inline script."""
        add_docs_rules(blueprint)


def store_projects(svc: Services) -> None:
    """Record the keys' projects and move data from before projects to the default project.

    Both steps are idempotent. When Redis is not reachable yet, the gateway starts anyway
    (readiness says so) and the first request that finds it retries them.
    """
    try:
        projects.record(svc.store.redis, set(svc.projects))
        moved = projects.migrate(svc.store.redis)
    except RedisError as exc:
        log.warning("projects not recorded yet (Redis: %s); retried on the next request", exc)
        return
    svc.projects_stored = True
    if any(moved.values()):
        log.info("listed in the default project, from before projects: %s", moved)


def store_projects_once() -> None:
    """Retry store_projects before a request while it has not succeeded in this process."""
    svc = services()
    if not svc.projects_stored:
        store_projects(svc)


def create_app(test_config: Mapping | None = None, settings: Settings | None = None) -> Flask:
    """Build the gateway from settings (read from the environment when not given)."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)  # RuntimeError on a bad format
    api_keys = auth.keys_from_settings(settings)  # RuntimeError when none or malformed
    registry.load_kinds(settings.model_kinds)  # the base models a job may name
    kind.register_base_models(settings.base_model_locations)  # the operator's language models
    # From here on the keys are held only as digests.
    settings = dataclasses.replace(settings, api_key="", api_keys="")
    for name, value in (
        ("TUNELOOP_MAX_BODY_BYTES", settings.max_body_bytes),
        ("TUNELOOP_IDEMPOTENCY_TTL", settings.idempotency_ttl),
    ):
        if value < 1:
            raise RuntimeError(f"{name} must be a positive number, not {value}")
    app = Flask(__name__)
    app.request_class = UploadRequest  # an upload's file part streams to Redis
    app.config.update(DEFAULTS)
    if test_config:
        app.config.update(test_config)
    app.debug = False  # never the debugger, whatever FLASK_DEBUG or a config says
    app.extensions["tuneloop"] = Services(
        settings=settings,
        store=Store.from_url(
            settings.redis_url,
            failed_job_ttl=settings.failed_job_ttl,
            budget=Budget(settings.max_project_bytes),
        ),
        celery=build_celery(settings),
        api_keys=api_keys,
    )
    send_webhooks(app.extensions["tuneloop"])
    store_projects(app.extensions["tuneloop"])
    api = TuneloopApi(app, spec_kwargs={"extra_plugins": [openapi.Conventions()]})
    api.spec.components.schema(openapi.OPENAI_ERROR, schema=OpenAIErrorSchema)
    id_params.register_converters(app, api)  # before any route names one: <job:job_id>
    compat = (fine_tuning, openai_files, openai_chat)
    api_modules = (
        health,
        interactions,
        jobs,
        comparisons,
        evaluations,
        models,
        downloads,
        usage,
        autopilots,
        webhooks,
    )
    for module in (*api_modules, *compat):
        api.register_blueprint(module.blp)
    errors.register(app)
    openai_errors.register(app)  # the OpenAI routes answer errors in OpenAI's shape
    request_id.register(app)  # first: even a refused request gets its X-Request-ID
    pages.register(app)  # /ui: a session cookie instead of the bearer key, checked before it
    # Before each request, in this order: key and scope (401, 403), the key's rate limit
    # (429), the body size (413), a page's short id (303, 300), an id in the path that is
    # not one (404), the body's media type (415).
    auth.register(app)
    limits.build_limiter(app, settings, app.extensions["tuneloop"].store.redis)
    limits.install_body_limit(app, settings.max_body_bytes)
    app.before_request(store_projects_once)
    app.before_request(short_ids.resolve_short_ids)  # a page's short id: to its whole id
    app.before_request(id_params.refuse_malformed)
    app.before_request(require_json_body)
    # The hot lane serves plainly fine posts of one interaction and job reads before Flask.
    app.wsgi_app = HotLane(app, app.wsgi_app)
    # Counts every answer, refusals included; served on the metrics port, not this one.
    metrics.instrument(app)
    return app


def require_json_body() -> object:
    """Answer 415 to a body that is not declared as JSON, once routing has found the view."""
    if request.routing_exception is not None:
        return None  # 404 or 405 comes first
    if request.blueprint == pages.bp.name:
        return None  # the report pages' forms post form data (with a CSRF token)
    if request.blueprint == openai_files.blp.name:
        return None  # uploads are multipart/form-data
    if request.method in ("POST", "PUT", "PATCH") and not limits.body_is_json_or_absent():
        return problem(
            415,
            "Unsupported Media Type",
            "the request body must be JSON (Content-Type: application/json)",
        )
    return None
