"""Prometheus metrics of the gateway: its requests, and the pipeline's counts kept in Redis.

Request metrics are counted in each gunicorn worker, in prometheus_client's multiprocess mode
(every worker writes its own files under PROMETHEUS_MULTIPROC_DIR, see gunicorn_conf). They
are served, summed over the workers, by one HTTP server in gunicorn's master on its own port
(TUNELOOP_METRICS_PORT), never on the API's port, together with the pipeline metrics the
workers keep in Redis (tuneloop.store.metrics), read at each scrape.
"""

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask, request, request_started
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector
from redis import Redis

from tuneloop import contracts, graph
from tuneloop.encoder.spec import DIM
from tuneloop.settings import Settings
from tuneloop.store import metrics as pipeline
from tuneloop.store.metrics import MetricsStore
from tuneloop_gateway.id_params import plain_rule

log = logging.getLogger(__name__)
EMBEDDING_BYTES = 2 * DIM  # one float16 vector
WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
# A label value is one of these or "other", so a client cannot create new series at will.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route of a request no URL rule matched (404, 405)
ROUTE_KEY = "tuneloop.route"  # where note_route leaves the matched rule in the environ


@dataclass(frozen=True)
class HttpMetrics:
    """The gateway's request counter and latency histogram."""

    requests: Counter
    seconds: Histogram


@functools.cache
def http_metrics() -> HttpMetrics:
    """Return this process's request metrics, built on first use (after gunicorn set the dir).

    They are in no registry: in multiprocess mode the master reads the workers' files, and a
    gateway built twice in one process (tests) must not register them twice.
    """
    return HttpMetrics(
        Counter(
            "tuneloop_http_requests",
            "HTTP requests answered by the gateway, by method, route (URL rule) and status.",
            ("method", "route", "status"),
            registry=None,
        ),
        Histogram(
            "tuneloop_http_request_duration_seconds",
            "Time from a request reaching the app to its response, by method and route.",
            ("method", "route"),
            registry=None,
        ),
    )


class RequestMetrics:
    """WSGI middleware that counts and times every request the app answers."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.metrics = http_metrics()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Call the app, then record its status and time under the matched route."""
        began = time.perf_counter()
        status = ["500"]

        def recording_start_response(code: str, headers: list, *args: Any) -> Any:
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, *args)

        try:
            return self.app(environ, recording_start_response)
        finally:
            self._record(environ, status[0], time.perf_counter() - began)

    def _record(self, environ: dict, status: str, seconds: float) -> None:
        method = environ.get("REQUEST_METHOD", "")
        method = method if method in METHODS else "other"
        route = route_of(environ)
        self.metrics.requests.labels(method, route, status).inc()
        self.metrics.seconds.labels(method, route).observe(seconds)


def route_of(environ: dict) -> str:
    """Return the URL rule Flask matched for the request (its template), or "unmatched"."""
    return environ.get(ROUTE_KEY, UNMATCHED)


def note_route(sender: Flask, **_: Any) -> None:
    """Keep the matched URL rule in the WSGI environ, where RequestMetrics finds it after."""
    if request.url_rule is not None:
        request.environ[ROUTE_KEY] = plain_rule(request.url_rule.rule)


def instrument(app: Flask) -> None:
    """Count and time every request app answers, refusals included."""
    request_started.connect(note_route, app)  # routing is done; before any before_request
    app.wsgi_app = RequestMetrics(app.wsgi_app)


class PipelineCollector(Collector):
    """Reads the pipeline metrics from Redis at each scrape."""

    def __init__(self, store: MetricsStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        """Yield every pipeline metric, or only tuneloop_pipeline_metrics_up 0 without Redis."""
        up = GaugeMetricFamily(
            "tuneloop_pipeline_metrics_up", "1 when the pipeline metrics were read from Redis."
        )
        try:
            snapshot = self.store.read()
        except Exception:  # a scrape must answer even while Redis is down
            log.warning("could not read the pipeline metrics from Redis", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families(snapshot)


def families(s: pipeline.Snapshot) -> Iterator[Metric]:
    """Return the Prometheus metric families of a pipeline snapshot."""
    jobs = GaugeMetricFamily("tuneloop_jobs", "Jobs by status.", labels=["status"])
    for status in contracts.STATUSES:
        jobs.add_metric([status], s.jobs_by_status.get(status, 0))
    yield jobs
    duration = HistogramMetricFamily(
        "tuneloop_stage_duration_seconds",
        "Time a stage took to finish (stages that finished), over every worker.",
        labels=["stage"],
    )
    empty = pipeline.Histogram(pipeline.cumulative({}), 0.0)
    for stage in graph.STAGES:
        histogram = s.stage_seconds.get(stage, empty)
        duration.add_metric([stage], histogram.buckets, histogram.sum)
    yield duration
    retries = CounterMetricFamily(
        "tuneloop_stage_retries",
        "Times a stage task was sent again: waiting (inputs, lease) or after a Redis fault.",
        labels=["stage", "reason"],
    )
    crashes = CounterMetricFamily(
        "tuneloop_stage_crashes",
        "Runs of a stage that died without finishing (seen when the stage starts again).",
        labels=["stage"],
    )
    for stage in graph.STAGES:
        for reason in pipeline.RETRY_REASONS:
            retries.add_metric([stage, reason], s.stage_retries.get((stage, reason), 0))
        crashes.add_metric([stage], s.stage_crashes.get(stage, 0))
    yield retries
    yield crashes
    yield from _training(s)
    depth = GaugeMetricFamily(
        "tuneloop_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"]
    )
    for queue, n in s.queue_depth.items():
        depth.add_metric([queue], n)
    yield depth
    yield GaugeMetricFamily(
        "tuneloop_queue_unacked", "Messages workers took and have not acknowledged yet.", s.unacked
    )
    yield GaugeMetricFamily("tuneloop_interactions_stored", "Interactions stored.", s.interactions)
    yield GaugeMetricFamily(
        "tuneloop_embedding_cache_entries",
        "Texts whose embedding the cache holds (live entries; TUNELOOP_EMBED_CACHE_TTL).",
        s.embeddings,
    )
    yield GaugeMetricFamily(
        "tuneloop_embedding_cache_bytes",
        "Bytes of the cached embeddings (float16 vectors; keys and Redis overhead not counted).",
        s.embeddings * EMBEDDING_BYTES,
    )


def _training(s: pipeline.Snapshot) -> Iterator[Metric]:
    yield CounterMetricFamily(
        "tuneloop_fine_tune_epochs", "Fine-tuning epochs trained, over every worker.", s.epochs
    )
    yield CounterMetricFamily(
        "tuneloop_fine_tune_epoch_seconds",
        "Seconds spent training those epochs (rate of epochs over rate of this: epochs/s).",
        s.epoch_seconds,
    )
    if s.last_epochs_per_second is not None:
        yield GaugeMetricFamily(
            "tuneloop_fine_tune_last_epochs_per_second",
            "Epochs per second of the latest fine-tuning run.",
            s.last_epochs_per_second,
        )


def registry(redis_url: str, multiproc_dir: str | None) -> CollectorRegistry:
    """Return a registry of the workers' request metrics (from multiproc_dir) and the pipeline's."""
    reg = CollectorRegistry(auto_describe=False)
    if multiproc_dir:
        multiprocess.MultiProcessCollector(reg, path=multiproc_dir)
    # Short timeouts: a scrape reports Redis as down rather than hang on it.
    redis = Redis.from_url(
        redis_url, decode_responses=True, socket_connect_timeout=3, socket_timeout=5
    )
    reg.register(PipelineCollector(MetricsStore(redis)))
    return reg


def serve(settings: Settings, multiproc_dir: str | None) -> Any:
    """Serve /metrics on settings.metrics_port in a thread; return the server (None when off).

    A port that is taken raises OSError: the gateway stops rather than run unobserved.
    """
    if settings.metrics_port == 0:
        log.info("metrics endpoint off (TUNELOOP_METRICS_PORT=0)")
        return None
    reg = registry(settings.redis_url, multiproc_dir)
    server, _thread = start_http_server(settings.metrics_port, settings.metrics_addr, reg)
    log.info("metrics at http://%s:%d/metrics", settings.metrics_addr, settings.metrics_port)
    return server
