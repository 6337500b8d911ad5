"""The worker's logs: one format for Celery's lines and ours, and each task's context.

Celery sets logging up when the worker starts and would replace the root logger's handlers
with its own; a setup_logging receiver hands that to tuneloop.logs.configure_logging
instead (and redirects stdout and stderr to the log, as Celery would). In JSON format
Celery's banner becomes one record, and the notices Celery writes straight to stdout (its
shutdown notices) become JSON lines too. While a task runs, its lines carry task_id, the
request_id of the gateway request that sent its job (a message header, passed on to every
task sent from inside a task), and a stage task's job_id and stage.
"""

import contextlib
import contextvars
import logging
import sys
from typing import TextIO

from celery import Celery, Task, _original_os_write, current_app, signals
from celery.apps import worker as celery_worker
from celery.apps.worker import Worker

from tuneloop import logs
from tuneloop.settings import Settings

log = logging.getLogger(__name__)
# The undo token of each running task's context, by task id (prerun binds, postrun undoes).
_tokens: dict[str, contextvars.Token] = {}


def install(app: Celery, settings: Settings) -> str:
    """Configure logging now and when the worker starts; return the resolved format."""
    fmt = logs.configure_logging(settings.log_level, settings.log_format)
    app.conf.tuneloop_log_format = fmt
    for signal, receiver in (
        (signals.setup_logging, _setup_logging),
        (signals.celeryd_init, _quiet_banner),
        (signals.celeryd_after_setup, _log_banner),
        (signals.task_prerun, _bind_task),
        (signals.task_postrun, _unbind_task),
        (signals.before_task_publish, logs.add_request_id),
    ):
        signal.connect(receiver, weak=False, dispatch_uid=f"tuneloop-logs-{receiver.__name__}")
    return fmt


def _setup_logging(loglevel: int | str | None = None, **_: object) -> None:
    """Set logging up at worker start in place of Celery (which then leaves it alone)."""
    conf = current_app.conf
    settings: Settings = conf.tuneloop_settings
    logs.configure_logging(loglevel or settings.log_level, settings.log_format)
    if conf.worker_redirect_stdouts:  # what Celery does when it sets logging up itself
        current_app.log.redirect_stdouts(conf.worker_redirect_stdouts_level)


def _quiet_banner(instance: Worker, conf: object, **_: object) -> None:
    """In JSON format, keep Celery from printing its banner as plain lines."""
    if getattr(conf, "tuneloop_log_format", None) == "json":
        instance.quiet = True


def _log_banner(instance: Worker, conf: object, **_: object) -> None:
    """In JSON format, log the banner as one record, and Celery's notices as JSON lines."""
    if getattr(conf, "tuneloop_log_format", None) != "json":
        return
    log.info("%s%s", instance.startup_info(artlines=False), instance.extra_info() or "")
    celery_worker.safe_say = _say_json


def _say_json(msg: str, f: TextIO | None = None) -> None:
    """Write one of Celery's notices ("worker: Warm shutdown") as a JSON line, as safe_say does.

    Celery writes them from signal handlers with a bare os.write, bypassing logging; so
    does this.
    """
    stream = sys.__stderr__ if f is None else f
    fields = {"name": "celery.apps.worker", "levelname": "INFO", "levelno": logging.INFO}
    line = logs.JsonFormatter().format(logging.makeLogRecord({**fields, "msg": msg.strip()}))
    with contextlib.suppress(OSError, ValueError, AttributeError):  # best effort, as Celery's
        _original_os_write(stream.fileno(), f"{line}\n".encode())


def _bind_task(task_id: str, task: Task, args: tuple = (), **_: object) -> None:
    """Put the task's id, its request id and (a stage's) job and stage in the log context."""
    fields = {
        "task_id": task_id,
        "request_id": getattr(task.request, logs.REQUEST_ID_HEADER, None),
        **(task.log_fields(args) if hasattr(task, "log_fields") else {}),
    }
    _tokens[task_id] = logs.bind(**fields)


def _unbind_task(task_id: str, **_: object) -> None:
    """Take the task's fields out of the log context."""
    token = _tokens.pop(task_id, None)
    if token is not None:
        logs.reset(token)
