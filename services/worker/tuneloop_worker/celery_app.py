"""The worker's Celery app: the shared one (tuneloop.celery_factory) with its tasks and steps."""

import os

from celery import Celery
from celery.signals import worker_process_init

from tuneloop import celery_factory, failpoints
from tuneloop.agent import registry
from tuneloop.encoder import model
from tuneloop.llm import kind
from tuneloop.settings import Settings
from tuneloop_worker import kombu_patch, log_setup
from tuneloop_worker.heartbeat import VisibilityHeartbeat
from tuneloop_worker.runtime import set_embedding_cache
from tuneloop_worker.sweeper import Sweeper

TASK_MODULES = (
    "tuneloop_worker.tasks.stages",
    "tuneloop_worker.tasks.models",
    "tuneloop_worker.tasks.llm_chat",
    "tuneloop_worker.tasks.llm_files",
    "tuneloop_worker.tasks.files",
    "tuneloop_worker.tasks.autopilot",
    "tuneloop_worker.tasks.webhooks",
)


def create_celery(settings: Settings) -> Celery:
    """Build the worker's Celery app from settings."""
    app = celery_factory.create(settings, "tuneloop", current=True, include=list(TASK_MODULES))
    app.conf.tuneloop_settings = settings
    app.steps["consumer"].add(VisibilityHeartbeat)
    app.steps["consumer"].add(Sweeper)
    kombu_patch.apply()
    failpoints.configure(settings.failpoints, settings.mode)  # refused in production
    # Each process encodes with encoder_threads threads (read by tuneloop.encoder.model).
    os.environ[model.THREADS_ENV] = str(settings.encoder_threads)
    worker_process_init.connect(_process_init, weak=False)
    registry.load_kinds(settings.model_kinds)  # the model kinds beyond the built-in ones
    kind.register_base_models(settings.base_model_locations)  # the operator's language models
    # JSON or text lines, Celery's own included, with each task's context (RuntimeError on a
    # bad LOG_FORMAT).
    log_setup.install(app, settings)
    return app


def _process_init(**_: object) -> None:
    """In each pool process: its agents read and fill the shared embedding cache."""
    set_embedding_cache()
