"""The worker's Celery app: the shared one (tuneloop.celery_factory) with its tasks and steps."""

from celery import Celery

from tuneloop import celery_factory, failpoints
from tuneloop.agent import registry
from tuneloop.llm import kind
from tuneloop.settings import Settings
from tuneloop_worker import kombu_patch, log_setup
from tuneloop_worker.heartbeat import VisibilityHeartbeat
from tuneloop_worker.sweeper import Sweeper

TASK_MODULES = (
    "tuneloop_worker.tasks.stages",
    "tuneloop_worker.tasks.models",
    "tuneloop_worker.tasks.llm_chat",
    "tuneloop_worker.tasks.llm_files",
)


def create_celery(settings: Settings) -> Celery:
    """Build the worker's Celery app from settings."""
    app = celery_factory.create(settings, "tuneloop", current=True, include=list(TASK_MODULES))
    app.conf.tuneloop_settings = settings
    app.steps["consumer"].add(VisibilityHeartbeat)
    app.steps["consumer"].add(Sweeper)
    kombu_patch.apply()
    failpoints.configure(settings.failpoints, settings.mode)  # refused in production
    registry.load_kinds(settings.model_kinds)  # the model kinds beyond the built-in ones
    kind.register_base_models(settings.base_model_locations)  # the operator's language models
    # JSON or text lines, Celery's own included, with each task's context (RuntimeError on a
    # bad LOG_FORMAT).
    log_setup.install(app, settings)
    return app
