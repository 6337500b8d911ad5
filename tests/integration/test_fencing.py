"""Fencing: a model is published only while its job is active and its runner holds the lease.

The stages run in this process against the session's real redis-server, so the race windows
(a cancel or a lease takeover between the last check and publication) are hit exactly, by
acting at the stage's "publish" and "epoch" failpoints.
"""

from collections.abc import Callable, Iterator

import pytest

from tuneloop import contracts, failpoints
from tuneloop.errors import StageSkipped
from tuneloop.pipeline.fine_tune import model_id_for
from tuneloop.pipeline.runner import run_stage, work_of
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.store import Store, keys

from .support import STAGES, ApiClient, Stack, seeded_store

pytestmark = pytest.mark.integration

WORDS = {"billing": "invoice refund charge", "hiking": "trail summit boots"}


@pytest.fixture(scope="module")
def store(stack: Stack) -> Iterator[Store]:
    """The session's store with two task types of data; every job left open is cancelled."""
    yield from seeded_store(stack, WORDS)


def prepared_job(store: Store, n_epochs: int = 3) -> dict:
    """Create a job and run it up to (not including) fine_tune."""
    request = JobInSchema().load(
        {
            "include_synthetic": False,
            "lab_eval_set": True,
            "hyperparameters": {"n_epochs": n_epochs},
        }
    )
    job = store.jobs.create(request, store.interactions.last_seq(), len(STAGES) + n_epochs)
    for stage in ("collect", "filter", "prepare", "embed", "evaluate_baseline"):
        run_stage(store, job["id"], stage, work_of(stage))
    return job


def act_at(monkeypatch: pytest.MonkeyPatch, point: str, action: Callable[[], None]) -> None:
    """Run action when the stage reaches the named failpoint (once)."""
    real, done = failpoints.hit, []

    def hit(name: str, delivery: int = 1) -> None:
        if name == point and not done:
            done.append(name)
            action()
        real(name, delivery)

    monkeypatch.setattr(failpoints, "hit", hit)


def nothing_published(store: Store, job: dict) -> None:
    """Assert the job's model exists nowhere: no description, listing, bytes or chunks."""
    mid = model_id_for(job)
    assert store.models.meta(mid) is None
    assert mid not in {m["id"] for m in store.models.list()}
    assert store.models.payload(mid) is None
    assert list(store.redis.scan_iter(match=f"{keys.model(mid)}*")) == []


def test_a_cancel_between_the_last_check_and_publication_leaves_no_model(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = prepared_job(store)
    act_at(monkeypatch, "publish", lambda: store.cancel_job(job["id"]))
    with pytest.raises(StageSkipped):
        run_stage(store, job["id"], "fine_tune", work_of("fine_tune"))
    assert store.jobs.get(job["id"])["status"] == contracts.CANCELLED
    assert store.jobs.get(job["id"])["model_id"] is None
    nothing_published(store, job)


def test_a_runner_that_lost_its_lease_publishes_nothing_and_leaves_the_job_to_the_holder(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = prepared_job(store)
    lease = keys.lease(job["id"], "fine_tune")
    act_at(monkeypatch, "publish", lambda: store.redis.set(lease, "other-host|1|taken"))
    with pytest.raises(StageSkipped, match="lost its lease"):
        run_stage(store, job["id"], "fine_tune", work_of("fine_tune"))
    assert store.jobs.get(job["id"])["status"] == contracts.RUNNING
    nothing_published(store, job)
    assert "fine_tune" not in store.jobs.steps_done(job["id"])


def test_a_runner_that_lost_its_lease_stops_at_its_next_epoch(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = prepared_job(store, n_epochs=6)
    lease = keys.lease(job["id"], "fine_tune")
    act_at(monkeypatch, "epoch", lambda: store.redis.set(lease, "other-host|1|taken"))
    with pytest.raises(StageSkipped, match="lost its lease"):
        run_stage(store, job["id"], "fine_tune", work_of("fine_tune"))
    events, _ = store.jobs.events(job["id"], limit=1000)
    epochs = [e["data"]["epoch"] for e in events if e["type"] == "metrics"]
    assert epochs == [1], epochs  # stopped before checkpointing epoch 1 or training epoch 2
    nothing_published(store, job)


def test_cancelling_after_publication_withdraws_the_model_for_good(
    store: Store, client: ApiClient
) -> None:
    job = prepared_job(store)
    run_stage(store, job["id"], "fine_tune", work_of("fine_tune"))
    mid = model_id_for(job)
    assert client.get(f"/v1/models/{mid}").status_code == 200
    cancelled = client.post(
        f"/v1/jobs/{job['id']}/cancel", headers={"Content-Type": "application/json"}
    )
    assert cancelled.status_code == 200, cancelled.text[:300]
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["model_id"] is None
    assert client.get(f"/v1/models/{mid}").status_code == 404
    asked = client.post(f"/v1/models/{mid}/responses", json={"input": "refund please"})
    assert asked.status_code == 404, asked.text[:300]
    nothing_published(store, job)
