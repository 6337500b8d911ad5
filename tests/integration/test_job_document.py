"""An ended job's answer is rendered once and kept; whatever can still change is checked."""

import pytest

from tuneloop.schemas.jobs import JobInSchema
from tuneloop.store import keys
from tuneloop.store.answer_cache import DOCUMENT

from .support import ApiClient, Stack, create_job, seed_interactions, wait_for_job

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ended_job(client: ApiClient, stack: Stack) -> str:
    """A job that ran to the end on the session's stack."""
    seed_interactions(client, per_task=6)
    job_id = create_job(client, n_epochs=2)
    wait_for_job(client, stack, job_id)
    return job_id


def read(client: ApiClient, job_id: str) -> bytes:
    response = client.get(f"/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    return response.content


def test_an_ended_job_reads_the_same_bytes_from_its_kept_answer(
    client: ApiClient, stack: Stack, ended_job: str
) -> None:
    redis = stack.store.redis
    redis.hdel(keys.job(ended_job), DOCUMENT)
    rendered = read(client, ended_job)
    kept = redis.hget(keys.job(ended_job), DOCUMENT)
    assert kept is not None and kept.endswith(rendered.decode())
    assert read(client, ended_job) == rendered
    # The kept answer is what is served: a mark in it shows up in the next read.
    redis.hset(keys.job(ended_job), DOCUMENT, kept.replace('"succeeded"', '"kept"', 1))
    assert b'"kept"' in read(client, ended_job)
    redis.hset(keys.job(ended_job), DOCUMENT, kept)


def test_a_step_or_delivery_counted_after_the_end_shows_in_the_next_read(
    client: ApiClient, stack: Stack, ended_job: str
) -> None:
    redis = stack.store.redis
    before = client.get(f"/v1/jobs/{ended_job}").json()
    redis.hincrby(keys.job_deliveries(ended_job), "compare:started", 1)
    after = client.get(f"/v1/jobs/{ended_job}").json()
    assert after["deliveries"]["compare"] == before["deliveries"]["compare"] + 1
    redis.hincrby(keys.job_deliveries(ended_job), "compare:started", -1)
    assert client.get(f"/v1/jobs/{ended_job}").json() == before


def test_a_job_still_running_keeps_no_answer(client: ApiClient, stack: Stack) -> None:
    request = JobInSchema().load({"hyperparameters": {"n_epochs": 1}})
    job_id = stack.store.jobs.create(request, snapshot_seq=0, total_steps=7)["id"]
    try:
        assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"
        assert stack.store.redis.hget(keys.job(job_id), DOCUMENT) is None
        assert not stack.store.jobs.keep_document(job_id, "0|", "{}")
    finally:
        stack.store.jobs.delete(job_id)
