"""Pausing jobs in the tests: a stack whose worker stops at gates, and what a paused job holds.

The worker's failpoints are gates (files): collect waits after it took its lease, fine-tune
after each epoch's record, evaluate_model_a after it took its lease, each only while its file
is missing. With every gate open the jobs run at full speed; a test shuts one to hold a job
at a known point (a queued job, a runner between two epochs) and pauses it there.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tuneloop_devstack.stack import Stack

from tuneloop import celery_factory, contracts
from tuneloop.canvas import job_canvas
from tuneloop.settings import Settings
from tuneloop.store import job_keys, keys

from .api import ApiClient
from .faults import create_job, describe_job, events_of, wait_for_epochs, wait_job_status
from .polling import wait_until
from .stacks import TIMINGS, private_stack

SWEEP_INTERVAL = 1.0  # the workers sweep every second
FROZEN_FOR = 5.0  # the window the issue asks a paused job to be seen frozen for
READ_EVERY = 0.2  # seconds between two reads in that window


@dataclass(frozen=True)
class Gates:
    """The worker's gate files (a gate is open while its file exists)."""

    collect: Path
    epoch: Path
    evaluate: Path

    def spec(self) -> str:
        """The worker's TUNELOOP_FAILPOINTS."""
        points = {"collect": self.collect, "epoch": self.epoch, "evaluate_model_a": self.evaluate}
        return ";".join(f"{point}=gate:{path}" for point, path in points.items())

    def open_all(self) -> None:
        """Open every gate (at the end of a test, whatever it shut)."""
        for gate in (self.collect, self.epoch, self.evaluate):
            gate.touch()


@contextlib.contextmanager
def gated_stack(gates: Gates) -> Iterator[Stack]:
    """Redis (append-only, fsync always), the gateway and one gated worker "w1" sweeping every
    second, with the fault tests' short timings."""
    gates.open_all()
    env = {**TIMINGS, "TUNELOOP_SWEEP_INTERVAL": f"{SWEEP_INTERVAL:g}"}
    with private_stack("tuneloop-pause-", env) as stack:
        stack.start_redis("always")
        stack.start_gateway(wait=False)
        stack.start_worker("w1", gates.spec(), wait=False)
        stack.wait_gateway()
        stack.wait_worker("w1")
        try:
            yield stack
        finally:
            gates.open_all()


def held_after_first_epoch(api: ApiClient, stack: Stack, gates: Gates, n_epochs: int) -> str:
    """Shut the epoch gate, create a job; return its id once its runner waits after epoch 1."""
    gates.epoch.unlink(missing_ok=True)
    job_id = create_job(api, n_epochs)
    wait_for_epochs(stack, job_id, 1)
    return job_id


def pause(api: ApiClient, job_id: str, route: str = "/v1/jobs") -> dict:
    """POST the pause; assert 200; return the job it answers."""
    response = api.post(f"{route}/{job_id}/pause")
    assert response.status_code == 200, response.text
    return response.json()


def resume(api: ApiClient, job_id: str, route: str = "/v1/jobs") -> dict:
    """POST the resume; assert 200; return the job it answers."""
    response = api.post(f"{route}/{job_id}/resume")
    assert response.status_code == 200, response.text
    return response.json()


def paused_after_second_epoch(api: ApiClient, stack: Stack, gates: Gates, n_epochs: int) -> str:
    """Hold a job after epoch 1, pause it (pausing), open the gate: its runner stops after
    epoch 2 with a checkpoint. Return its id once it is paused and holds nothing."""
    job_id = held_after_first_epoch(api, stack, gates, n_epochs)
    assert pause(api, job_id)["status"] == contracts.PAUSING
    gates.epoch.touch()
    wait_job_status(api, stack, job_id, {contracts.PAUSED}, 30.0)
    wait_holds_nothing(stack, job_id)
    return job_id


def leases_of(stack: Stack, job_id: str) -> list[str]:
    """The stage leases of the job that exist."""
    return [key for key in job_keys.leases(job_id) if stack.store.redis.exists(key)]


def messages_naming(stack: Stack, job_id: str) -> list[str]:
    """The broker's keys holding a message that names the job: any queue list (with kombu's
    priority suffixes, every worker's queue), and the delivered-but-unacknowledged hash."""
    redis, found = stack.store.redis, []
    for key in redis.scan_iter(count=1000):
        if key.startswith((keys.PREFIX, "_kombu")):
            continue
        kind = redis.type(key)
        values = redis.lrange(key, 0, -1) if kind == "list" else []
        values += redis.hvals(key) if kind == "hash" else []
        if any(job_id in value for value in values):
            found.append(key)
    return found


def wait_holds_nothing(stack: Stack, job_id: str, timeout: float = 15.0) -> None:
    """Wait until no lease of the job exists and no message names it (its last runner acks)."""
    wait_until(
        lambda: not leases_of(stack, job_id) and not messages_naming(stack, job_id),
        timeout,
        lambda: (
            f"leases {leases_of(stack, job_id)}, messages in {messages_naming(stack, job_id)}"
            f": {describe_job(stack, job_id)}"
        ),
        interval=0.05,
    )


def assert_frozen(api: ApiClient, stack: Stack, job_id: str, seconds: float = FROZEN_FOR) -> int:
    """Read the paused job for `seconds`: every read answers 304 to the first read's ETag
    (status, stage, progress, steps and deliveries all unchanged), and its events, steps,
    leases and messages do not move. Return how many reads were made."""
    first = api.get(f"/v1/jobs/{job_id}")
    assert first.status_code == 200 and first.json()["status"] == contracts.PAUSED, first.text
    tag, events = first.headers["ETag"], events_of(stack, job_id)
    steps = stack.store.jobs.steps_done(job_id)
    reads, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        again = api.get(f"/v1/jobs/{job_id}", headers={"If-None-Match": tag})
        assert again.status_code == 304, f"read {reads}: {again.status_code} {again.text[:300]}"
        assert events_of(stack, job_id) == events, describe_job(stack, job_id)
        assert stack.store.jobs.steps_done(job_id) == steps
        assert not leases_of(stack, job_id) and not messages_naming(stack, job_id)
        reads += 1
        time.sleep(READ_EVERY)  # the window is the point: nothing may move during it
    return reads


def send_canvas(stack: Stack, job_id: str) -> None:
    """Send the job's canvas as the gateway does (a stale or duplicated message, for a test)."""
    settings = Settings.from_env(stack.env())
    celery = celery_factory.create(settings, "test-sender", result_backend=None)  # no results
    try:
        job_canvas(celery, job_id).apply_async()
    finally:
        celery.close()
