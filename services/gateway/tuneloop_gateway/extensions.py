"""What the gateway holds per app: the store, a Celery client, the API keys' digests and the
answers of jobs being polled."""

from dataclasses import dataclass, field

from celery import Celery
from flask import current_app, g

from tuneloop import celery_factory
from tuneloop.celery_config import celery_config
from tuneloop.contracts import WEBHOOK_DELIVER
from tuneloop.settings import Settings
from tuneloop.store import Store
from tuneloop_gateway.answers import Answers
from tuneloop_gateway.auth import ApiKey, projects_of

POLLED_JOBS = 1024  # active jobs whose latest answer each worker keeps (a few KiB each)


@dataclass
class Services:
    """The gateway's connections, built once by the app factory."""

    settings: Settings
    store: Store
    celery: Celery
    api_keys: tuple[ApiKey, ...]
    polled: Answers = field(default_factory=lambda: Answers(POLLED_JOBS))
    projects: frozenset[str] = field(init=False)
    projects_stored: bool = False  # the keys' projects recorded, older data migrated

    def __post_init__(self) -> None:
        self.projects = projects_of(self.api_keys)


def build_celery(settings: Settings) -> Celery:
    """Build a Celery client that only sends tasks and reads results."""
    config = celery_config(settings)
    # A request thread must not hang on a Redis that is down: fail fast, answer 503.
    fast = {"socket_connect_timeout": 3, "socket_timeout": 5}
    return celery_factory.create(
        settings,
        "tuneloop-gateway",
        broker_transport_options={**config["broker_transport_options"], **fast},
        result_backend_transport_options={
            **config["result_backend_transport_options"],
            "retry_policy": {"timeout": 5.0},
        },
        redis_socket_connect_timeout=3,
        redis_socket_timeout=5,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
    )


def send_webhooks(svc: Services) -> None:
    """Have the gateway queue the first attempt of each delivery it records (a cancel's)."""

    def queue(delivery_id: str, token: str) -> None:
        svc.celery.send_task(WEBHOOK_DELIVER, args=(delivery_id, token), ignore_result=True)

    svc.store.send_webhooks_with(queue)


def services() -> Services:
    """Return the current app's services."""
    return current_app.extensions["tuneloop"]


def project_store() -> Store:
    """Return the store as the current request's project sees it."""
    return services().store.scoped(g.project)
