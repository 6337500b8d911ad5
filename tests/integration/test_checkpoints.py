"""Fine-tuning checkpoints by time, and each epoch recorded in one step while the job is ours.

The stages run in this process against the session's real redis-server. The checkpoint
schedule's clock is replaced by one that reads STEP seconds later at each reading (it is read
once when training starts and once per epoch), so "epochs of STEP seconds" are exact.
"""

import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from tuneloop import contracts, failpoints
from tuneloop.agent.softmax import TrainState
from tuneloop.pipeline.fine_tune import model_id_for
from tuneloop.pipeline.runner import Limits, run_stage, work_of
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.store import Store, keys
from tuneloop.trainers import softmax as training

from .support import STAGES, Stack, seeded_store

pytestmark = pytest.mark.integration

STEP = 0.0625  # seconds each epoch "takes" on the fake clock (exact in binary)
WORDS = {"billing": "invoice refund charge", "hiking": "trail summit boots"}


@pytest.fixture(scope="module")
def store(stack: Stack) -> Iterator[Store]:
    """The session's store with two task types of data; every job left open is cancelled."""
    yield from seeded_store(stack, WORDS)


@pytest.fixture
def epochs_of_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the checkpoint clock read STEP seconds more at each reading."""
    readings = itertools.count(0.0, STEP)
    monkeypatch.setattr(training, "clock", lambda: next(readings))


class Crash(Exception):  # noqa: N818 - a signal, not an error
    """Raised at the epoch failpoint: the worker dies there."""


def crash_after(monkeypatch: pytest.MonkeyPatch, epoch: int) -> None:
    """Raise Crash once, when the given epoch has been recorded."""
    real, done = failpoints.hit, []

    def hit(name: str, delivery: int = 1) -> None:
        if name == "epoch" and delivery == epoch and not done:
            done.append(epoch)
            raise Crash(f"killed after epoch {epoch}")
        real(name, delivery)

    monkeypatch.setattr(failpoints, "hit", hit)


def prepared_job(store: Store, n_epochs: int) -> dict:
    """Create a job and run it up to (not including) fine_tune."""
    request = JobInSchema().load(
        {"include_synthetic": False, "hyperparameters": {"n_epochs": n_epochs, "seed": 3}}
    )
    job = store.jobs.create(request, store.interactions.last_seq(), len(STAGES) + n_epochs)
    for stage in ("collect", "filter", "prepare", "embed"):
        run_stage(store, job["id"], stage, work_of(stage))
    return job


def fine_tune(store: Store, job: dict, interval: float) -> None:
    """Run the fine_tune stage with the given checkpoint interval."""
    run_stage(
        store, job["id"], "fine_tune", work_of("fine_tune"), Limits(checkpoint_interval=interval)
    )


def events(store: Store, job: dict) -> list[dict]:
    """Return the job's events, oldest first."""
    return store.jobs.events(job["id"], limit=1000)[0]


def summary(store: Store, job: dict) -> dict:
    """Return the data of the job's fine_tune:summary event."""
    [found] = [e["data"] for e in events(store, job) if e["message"].startswith("trained ")]
    return found


def weights(store: Store, job: dict) -> np.ndarray:
    """Return the router weights of the job's published model."""
    agent, _ = store.models.load(model_id_for(job))
    return agent.router.weights


@pytest.mark.usefixtures("epochs_of_step")
def test_cheap_epochs_are_checkpointed_once_per_interval(store: Store) -> None:
    job = prepared_job(store, n_epochs=10)
    fine_tune(store, job, interval=4 * STEP)
    assert summary(store, job)["checkpoint_epochs"] == [4, 8]
    assert store.artifacts.get(job["id"], training.POINTER)["epoch"] == 8
    epochs = [e["data"]["epoch"] for e in events(store, job) if e["type"] == "metrics"]
    assert epochs == list(range(1, 11))  # every epoch is still recorded, once


@pytest.mark.usefixtures("epochs_of_step")
def test_epochs_as_long_as_the_interval_are_each_checkpointed(store: Store) -> None:
    job = prepared_job(store, n_epochs=5)
    fine_tune(store, job, interval=STEP)
    assert summary(store, job)["checkpoint_epochs"] == [1, 2, 3, 4, 5]


@pytest.mark.usefixtures("epochs_of_step")
def test_a_run_killed_between_checkpoints_resumes_from_the_last_and_ends_as_one_never_killed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = prepared_job(store, n_epochs=10)
    fine_tune(store, reference, interval=3 * STEP)
    job = prepared_job(store, n_epochs=10)
    crash_after(monkeypatch, 8)
    with pytest.raises(Crash):
        fine_tune(store, job, interval=3 * STEP)
    fine_tune(store, job, interval=3 * STEP)

    resumes = [e["message"] for e in events(store, job) if e["message"].startswith("resuming")]
    assert resumes == ["resuming fine-tuning after epoch 6"]  # checkpoints at 3 and 6 only
    assert summary(store, job)["checkpoint_epochs"] == [9]  # the run after the kill: 7 to 10
    epochs = [e["data"]["epoch"] for e in events(store, job) if e["type"] == "metrics"]
    assert epochs == list(range(1, 11))  # epochs 7 and 8 trained twice, recorded once
    trained = [store.artifacts.get(j["id"], "training") for j in (reference, job)]
    assert trained[0]["epochs"] == trained[1]["epochs"]
    assert trained[0]["best_epoch"] == trained[1]["best_epoch"]
    np.testing.assert_array_equal(weights(store, job), weights(store, reference))


def state(epoch: int, best: int, history: list[dict]) -> TrainState:
    """Return a small training state after epoch whose best epoch is best (values from both)."""
    out = TrainState(
        epoch,
        np.full((4, 2), epoch, np.float32),
        np.full(2, epoch, np.float32),
        np.full(4, epoch, np.float32),
        np.full(2, epoch, np.float32),
        best_epoch=best,
        best_valid_loss=1.0 / best,
        bad_epochs=epoch - best,
        history=history[:epoch],
    )
    out.best_weights, out.best_bias = (
        np.full((4, 2), best, np.float32),
        np.full(2, best, np.float32),
    )
    return out


def test_a_best_epoch_that_was_not_due_is_written_before_a_later_worse_checkpoint(
    store: Store,
) -> None:
    job = store.jobs.create({"hyperparameters": {}}, 0, len(STAGES))
    history = [{"epoch": e, "train_loss": 1.0, "valid_loss": 1.0} for e in range(1, 6)]
    writer = training._CheckpointWriter(store, job["id"], training.checkpoint.Schedule(2.0, 0.0))
    # Epochs 1-3 improve, 4 and 5 do not; checkpoints are due at epochs 2 and 4.
    for epoch, best, now in [(1, 1, 1.0), (2, 2, 2.0), (3, 3, 3.0), (4, 3, 4.0), (5, 3, 5.0)]:
        writer.offer(state(epoch, best, history), epoch == best, now)
    writer.close()
    assert writer.epochs == [2, 4]
    assert store.artifacts.get(job["id"], training.POINTER) == {"slot": training.LAST, "epoch": 4}

    resumed = training._resume(store, job["id"])
    assert resumed is not None
    assert (resumed.epoch, resumed.best_epoch) == (4, 3)
    np.testing.assert_array_equal(resumed.weights, np.full((4, 2), 4, np.float32))
    np.testing.assert_array_equal(resumed.best_weights, np.full((4, 2), 3, np.float32))
    np.testing.assert_array_equal(resumed.accum, np.full(4, 4, np.float32))


def test_an_epoch_is_recorded_once_and_only_while_the_job_runs_and_the_lease_is_held(
    store: Store,
) -> None:
    job = store.jobs.create({"hyperparameters": {}}, 0, len(STAGES))
    jid, lease = job["id"], keys.lease(job["id"], "fine_tune")
    store.redis.set(lease, "me")

    def record(epoch: int, holder: str = "me") -> int:
        row = {"epoch": epoch, "train_loss": 0.5, "valid_loss": None}
        return store.jobs.record_step_if_held(jid, "fine_tune", holder, f"epoch:{epoch}", "m", row)

    def recorded() -> tuple[list[int], set[str]]:
        metrics = [e["data"]["epoch"] for e in events(store, job) if e["type"] == "metrics"]
        return metrics, store.jobs.steps_done(jid)

    assert record(1) == 1
    assert record(1) == 1  # a resumed run records the same epoch again: one event
    assert recorded() == ([1], {"epoch:1"})
    assert record(2, holder="another runner") == -1
    store.redis.delete(lease)
    assert record(2) == -1
    store.redis.set(lease, "me")
    store.cancel_job(jid)
    assert store.jobs.get(jid)["status"] == contracts.CANCELLED
    assert record(2) == 0
    assert recorded() == ([1], {"epoch:1"})
