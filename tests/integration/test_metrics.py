"""The gateway's Prometheus endpoint on a real stack: requests summed over gunicorn workers,
and the pipeline's metrics that the workers keep in Redis.

The metrics port is not the API's: each gateway the devstack starts gets its own free port
(Stack.metrics_url). Requests are counted on a gateway of this module's own, so that the
counts hold only the requests made here.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tuneloop import contracts, graph
from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE

from .support import (
    API_KEY,
    STAGES,
    TIMINGS,
    ApiClient,
    Stack,
    client_for,
    create_job,
    extra_gateway,
    private_stack,
    reset_store,
    seed_interactions,
    wait_for_job,
)

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {API_KEY}"}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    """Read every sample of the endpoint: (name, sorted labels) -> value."""
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """Return one sample's value; fail naming what there is when it is missing."""
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, f"{key} not scraped; {name} has {[k for k in samples if k[0] == name]}"
    return samples[key]


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum the samples of name whose labels include labels."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


@pytest.fixture(scope="module")
def metrics_gateway(stack: Stack) -> Iterator[tuple[str, str, Path]]:
    """A gateway of 2 gunicorn workers on the session's stack: its URL, metrics URL, dir."""
    with tempfile.TemporaryDirectory(prefix="tuneloop-prom-") as directory:
        env = {"WEB_CONCURRENCY": "2", "PROMETHEUS_MULTIPROC_DIR": directory}
        with extra_gateway(stack, "metrics", env) as url:
            yield url, stack.metrics_url("gateway-metrics"), Path(directory)


def test_requests_are_counted_by_route_and_status_summed_over_every_gunicorn_worker(
    metrics_gateway: tuple[str, str, Path],
) -> None:
    url, metrics_url, directory = metrics_gateway
    before = scrape(metrics_url)
    sent: Counter[tuple[str, str]] = Counter()

    def one(i: int) -> tuple[str, str]:
        # A new connection each time, so the kernel hands requests to both workers.
        path, route = [
            ("/healthz", "/healthz"),
            (f"/v1/jobs/ftjob-none{i}", "/v1/jobs/<job_id>"),
            (f"/nowhere/{i}", "unmatched"),
        ][i % 3]
        response = requests.get(url + path, headers=AUTH, timeout=10)
        return route, str(response.status_code)

    with ThreadPoolExecutor(8) as pool:
        for batch in range(20):  # at most 600 requests: until both workers served some
            sent.update(pool.map(one, range(batch * 30, batch * 30 + 30)))
            if len(list(directory.glob("counter_*.db"))) >= 2:
                break
    assert len(list(directory.glob("counter_*.db"))) == 2, "one worker served every request"
    after = scrape(metrics_url)
    assert sent[("/healthz", "200")] and sent[("/v1/jobs/<job_id>", "404")]
    assert sent[("unmatched", "404")]
    for (route, status), n in sent.items():
        labels = {"method": "GET", "route": route, "status": status}
        name = "tuneloop_http_requests_total"
        assert (
            value(after, name, **labels) - before.get((name, tuple(sorted(labels.items()))), 0) == n
        )
    made = sum(sent.values())
    counted = total(after, "tuneloop_http_requests_total") - total(
        before, "tuneloop_http_requests_total"
    )
    assert counted == made
    timed = total(after, "tuneloop_http_request_duration_seconds_count") - total(
        before, "tuneloop_http_request_duration_seconds_count"
    )
    assert timed == made


def test_the_api_port_serves_no_metrics(metrics_gateway: tuple[str, str, Path]) -> None:
    url, _, _ = metrics_gateway
    response = requests.get(url + "/metrics", headers=AUTH, timeout=10)
    assert response.status_code == 404
    assert "tuneloop_http_requests_total" not in response.text


def test_a_finished_job_shows_in_the_pipeline_metrics(
    stack: Stack, client: ApiClient, metrics_gateway: tuple[str, str, Path]
) -> None:
    reset_store(stack)  # empties the pipeline metrics too: they live in Redis
    posted = len(seed_interactions(client, per_task=8))
    job_id = create_job(client, n_epochs=3)
    job = wait_for_job(client, stack, job_id)
    samples = scrape(metrics_gateway[1])
    assert value(samples, "tuneloop_pipeline_metrics_up") == 1
    assert value(samples, "tuneloop_jobs", status=contracts.SUCCEEDED) == 1
    for status in set(contracts.STATUSES) - {contracts.SUCCEEDED}:
        assert value(samples, "tuneloop_jobs", status=status) == 0
    for stage in graph.STAGES:
        count = value(samples, "tuneloop_stage_duration_seconds_count", stage=stage)
        assert count == (1 if stage in STAGES else 0), stage
        inf = value(samples, "tuneloop_stage_duration_seconds_bucket", stage=stage, le="+Inf")
        assert inf == count
    assert value(samples, "tuneloop_stage_duration_seconds_sum", stage="fine_tune") > 0
    assert value(samples, "tuneloop_interactions_stored") == posted
    epochs = len(job["result"]["epochs"])
    assert value(samples, "tuneloop_fine_tune_epochs_total") == epochs == 3
    assert value(samples, "tuneloop_fine_tune_epoch_seconds_total") > 0
    assert value(samples, "tuneloop_fine_tune_last_epochs_per_second") > 0
    for queue in (PIPELINE_QUEUE, INTERACTIVE_QUEUE):
        assert value(samples, "tuneloop_queue_depth", queue=queue) >= 0
    assert value(samples, "tuneloop_queue_unacked") >= 0
    assert total(samples, "tuneloop_stage_crashes_total") == 0


def test_retries_and_crashes_of_stages_are_counted_once_each() -> None:
    # collect meets two Redis faults (two retries); every run of filter dies like a kill -9,
    # and with TUNELOOP_MAX_CRASHES=2 the third start, which sees two crashes, fails the job
    # (the second start saw one of them already: each counts once).
    env = {**TIMINGS, "TUNELOOP_MAX_CRASHES": "2"}
    with private_stack("tuneloop-metrics-", env) as stack:
        stack.start_redis(None)
        stack.start_gateway()
        stack.start_worker("w1", "collect=transient:2;filter=crash")
        with client_for(stack) as client:
            seed_interactions(client, per_task=4)
            job_id = create_job(client, n_epochs=1)
            job = wait_for_job(client, stack, job_id, expect=contracts.FAILED)
            assert job["error"]["code"] == "stage_crashed_repeatedly", job["error"]
        samples = scrape(stack.metrics_url())
    retries = "tuneloop_stage_retries_total"
    assert value(samples, retries, stage="collect", reason="redis_fault") == 2
    assert total(samples, retries) == 2
    assert value(samples, "tuneloop_stage_crashes_total", stage="filter") == 2
    assert total(samples, "tuneloop_stage_crashes_total") == 2
    assert value(samples, "tuneloop_jobs", status=contracts.FAILED) == 1
    assert value(samples, "tuneloop_stage_duration_seconds_count", stage="collect") == 1
    assert value(samples, "tuneloop_stage_duration_seconds_count", stage="filter") == 0
