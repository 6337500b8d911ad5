"""Round trips to Redis on a stage's path: an artifact put, an epoch's record, a lease taken.

Against the session's real redis-server; requests are counted where redis-py sends them (a
pipeline's commands go as one).
"""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import redis.connection

from tuneloop.store import Store, keys
from tuneloop.store.leases import LeaseHeld, holder_id

from .support import STAGES, Stack, reset_store

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(stack: Stack) -> Iterator[Store]:
    """The session's store; every job left open is cancelled."""
    reset_store(stack)
    store = Store.from_url(stack.redis_url)
    yield store
    for jid in store.redis.zrange(keys.JOBS, 0, -1):  # the session's worker waits for these
        store.cancel_job(jid)


def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the requests sent to Redis from now on (a pipeline's commands go as one)."""
    sent = [0]
    real = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent[0] += 1
        return real(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent


def test_an_artifact_is_stored_and_registered_in_one_round_trip(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = store.jobs.create({"hyperparameters": {}}, 0, len(STAGES))
    sent = round_trips(monkeypatch)
    store.artifacts.put(job["id"], "report", {"a": 1})
    assert sent[0] == 1
    assert store.artifacts.get(job["id"], "report") == {"a": 1}
    assert "report" in store.redis.smembers(keys.job_artifacts(job["id"]))


def test_an_epoch_is_recorded_with_its_fence_in_one_round_trip(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = store.jobs.create({"hyperparameters": {}}, 0, len(STAGES))
    store.redis.set(keys.lease(job["id"], "fine_tune"), "me")
    row = {"epoch": 1, "train_loss": 0.5, "valid_loss": None}
    store.jobs.record_step_if_held(job["id"], "fine_tune", "me", "epoch:0", "m", row)  # loads
    sent = round_trips(monkeypatch)
    assert store.jobs.record_step_if_held(job["id"], "fine_tune", "me", "epoch:1", "m", row) == 1
    assert sent[0] == 1


def test_a_free_lease_is_taken_in_one_round_trip(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = store.jobs.create({"hyperparameters": {}}, 0, len(STAGES))
    store.leases.acquire(job["id"], "filter", holder_id())  # loads the script into Redis
    sent = round_trips(monkeypatch)
    store.leases.acquire(job["id"], "collect", holder_id())
    assert sent[0] == 1


def test_a_lease_held_on_this_host_is_taken_over_only_from_a_dead_process(store: Store) -> None:
    job = store.jobs.create({"hyperparameters": {}}, 0, len(STAGES))
    key = keys.lease(job["id"], "collect")
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                            capture_output=True, text=True)  # fmt: skip
    host = socket.gethostname()
    store.redis.set(key, f"{host}|{os.getpid()}|live")  # this process: alive
    with pytest.raises(LeaseHeld):
        store.leases.acquire(job["id"], "collect", holder_id())
    store.redis.set(key, f"{host}|{int(exited.stdout)}|gone")  # a process that has exited
    mine = holder_id()
    store.leases.acquire(job["id"], "collect", mine)
    assert store.redis.get(key) == mine
    store.redis.set(key, f"elsewhere|{int(exited.stdout)}|other-host")  # unknown: left alone
    with pytest.raises(LeaseHeld):
        store.leases.acquire(job["id"], "collect", holder_id())
