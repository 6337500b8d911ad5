"""The gateway's metrics: request labels of bounded cardinality, the pipeline families, the dir."""

from pathlib import Path

from flask import Flask, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tuneloop import contracts, graph
from tuneloop.store.metrics import Histogram, Snapshot, bucket_of, cumulative
from tuneloop_gateway import gunicorn_conf, metrics


def sample_value(name: str, labels: dict[str, str]) -> float:
    """Return this process's value of one request counter sample (0 when not yet counted)."""
    counter = metrics.http_metrics().requests
    for family in counter.collect():
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return 0.0


def test_requests_are_labelled_by_url_rule_template_or_unmatched() -> None:
    app = Flask(__name__)

    @app.get("/v1/things/<thing_id>")
    def thing(thing_id: str) -> str:
        return thing_id

    @app.before_request
    def refuse_secret() -> object:  # a refusal before the view still counts under its route
        return ("no", 401) if "secret" in request.path else None

    metrics.instrument(app)
    client = app.test_client()
    name = "tuneloop_http_requests_total"
    labels = {
        "ok": {"method": "GET", "route": "/v1/things/<thing_id>", "status": "200"},
        "refused": {"method": "GET", "route": "/v1/things/<thing_id>", "status": "401"},
        "missing": {"method": "GET", "route": "unmatched", "status": "404"},
        "odd": {"method": "other", "route": "unmatched", "status": "405"},
    }
    before = {k: sample_value(name, v) for k, v in labels.items()}
    for i in range(3):
        assert client.get(f"/v1/things/{i}").status_code == 200
    assert client.get("/v1/things/secret").status_code == 401
    assert client.get("/elsewhere/1").status_code == 404
    assert client.get("/elsewhere/2").status_code == 404
    assert client.open("/v1/things/1", method="BREW").status_code == 405
    after = {k: sample_value(name, v) for k, v in labels.items()}
    assert {k: after[k] - before[k] for k in labels} == {
        "ok": 3,
        "refused": 1,
        "missing": 2,
        "odd": 1,
    }


def snapshot() -> Snapshot:
    """A snapshot as MetricsStore.read returns it."""
    counts = {bucket_of(0.3): 1, bucket_of(12.0): 1}
    return Snapshot(
        jobs_by_status={contracts.SUCCEEDED: 2, contracts.RUNNING: 1},
        stage_seconds={"collect": Histogram(cumulative(counts), 12.3)},
        stage_retries={("collect", "redis_fault"): 2},
        stage_crashes={"filter": 1},
        epochs=6,
        epoch_seconds=3.0,
        last_epochs_per_second=2.5,
        queue_depth={"tuneloop.pipeline": 4, "tuneloop.interactive": 0},
        unacked=1,
        interactions=120,
        embeddings=5,
    )


class Fixed:
    """A MetricsStore stand-in returning one snapshot."""

    def read(self) -> Snapshot:
        return snapshot()


class Broken:
    """A MetricsStore stand-in whose Redis is down."""

    def read(self) -> Snapshot:
        raise ConnectionError("Redis is down")


def scraped(store: object) -> dict[tuple[str, tuple], float]:
    """Return the samples a registry holding only the pipeline collector exposes."""
    registry = CollectorRegistry()
    registry.register(metrics.PipelineCollector(store))  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_pipeline_collector_exposes_every_metric_of_a_snapshot() -> None:
    samples = scraped(Fixed())
    assert samples[("tuneloop_pipeline_metrics_up", ())] == 1
    assert samples[("tuneloop_jobs", (("status", "succeeded"),))] == 2
    assert samples[("tuneloop_jobs", (("status", "queued"),))] == 0
    assert samples[("tuneloop_stage_duration_seconds_count", (("stage", "collect"),))] == 2
    assert (
        samples[("tuneloop_stage_duration_seconds_bucket", (("le", "0.5"), ("stage", "collect")))]
        == 1
    )
    assert samples[("tuneloop_stage_duration_seconds_sum", (("stage", "collect"),))] == 12.3
    for stage in graph.STAGES:  # every stage is there from the start, so rate() works at once
        assert ("tuneloop_stage_duration_seconds_count", (("stage", stage),)) in samples
        assert ("tuneloop_stage_crashes_total", (("stage", stage),)) in samples
    retries = ("tuneloop_stage_retries_total", (("reason", "redis_fault"), ("stage", "collect")))
    assert samples[retries] == 2
    assert samples[("tuneloop_stage_crashes_total", (("stage", "filter"),))] == 1
    assert samples[("tuneloop_fine_tune_epochs_total", ())] == 6
    assert samples[("tuneloop_fine_tune_epoch_seconds_total", ())] == 3.0
    assert samples[("tuneloop_fine_tune_last_epochs_per_second", ())] == 2.5
    assert samples[("tuneloop_queue_depth", (("queue", "tuneloop.pipeline"),))] == 4
    assert samples[("tuneloop_queue_unacked", ())] == 1
    assert samples[("tuneloop_interactions_stored", ())] == 120
    assert samples[("tuneloop_embedding_cache_entries", ())] == 5
    assert samples[("tuneloop_embedding_cache_bytes", ())] == 5 * 2 * 384


def test_a_scrape_while_redis_is_down_says_so_and_still_answers() -> None:
    samples = scraped(Broken())
    assert samples == {("tuneloop_pipeline_metrics_up", ()): 0}


def test_a_given_multiprocess_dir_is_emptied_of_old_counts(tmp_path: Path) -> None:
    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "keep.txt").write_text("not ours")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    assert gunicorn_conf.metrics_dir(env) == (tmp_path, False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_without_a_multiprocess_dir_a_new_one_is_made_and_set(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    path, created = gunicorn_conf.metrics_dir(env)
    try:
        assert created and path.is_dir() and not any(path.iterdir())
        assert env["PROMETHEUS_MULTIPROC_DIR"] == str(path)
    finally:
        path.rmdir()
