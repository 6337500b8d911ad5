"""Jobs seen through the API: wait for their end, read their events, wait for an idle worker."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from tuneloop_devstack.stack import Stack

from tuneloop import contracts, graph
from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE
from tuneloop.pipeline.fine_tune import model_id_for
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.store import Store, keys
from tuneloop.timeutil import now

from .api import ApiClient, AppClient
from .polling import wait_until

STAGES = graph.stages_of(graph.FINE_TUNING)  # the stages of a fine-tuning job
JOB_TIMEOUT = 120.0
Client = ApiClient | AppClient


def job_state(job: Mapping | None) -> str:
    """Summarize a job for a failure message."""
    if not job:
        return "no job read yet"
    keys = ("id", "status", "stage", "progress", "error", "model_id")
    return repr({k: job.get(k) for k in keys})


def wait_for_job(
    client: Client,
    stack: Stack,
    job_id: str,
    expect: str = contracts.SUCCEEDED,
    timeout: float = JOB_TIMEOUT,
) -> dict:
    """Poll the job until it ends; fail unless it ended as expected, its closing events first."""
    last: dict = {}

    def ended() -> dict | None:
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, (
            f"GET job {job_id}: {response.status_code} {response.text}"
        )
        last.update(response.json())
        return last if last["status"] in contracts.TERMINAL else None

    wait_until(
        ended,
        timeout,
        lambda: f"job {job_id} to end; last state {job_state(last)}\n{stack.logs()}",
        interval=0.2,
    )
    assert last["status"] == expect, (
        f"job {job_id} ended {last['status']!r}, expected {expect!r}: {job_state(last)}\n"
        f"{stack.logs()}"
    )
    assert_closing_events_came_first(client, last)
    return client.get(f"/v1/jobs/{job_id}").json()


def assert_closing_events_came_first(client: Client, job: dict) -> None:
    """A job read as succeeded or failed already has the events that close it.

    The runner writes the last stage's end and the job's closing event before the status,
    so a reader that sees the status never misses them.
    """
    if job["status"] == contracts.SUCCEEDED:
        closing = [("stage.finished", graph.last(job["kind"])), ("job.succeeded", None)]
    elif job["status"] == contracts.FAILED:
        closing = [("job.failed", job["error"]["stage"])]
    else:
        return  # a cancel writes its event after the status: nothing is promised
    events = [(e["type"], e["data"].get("stage")) for e in all_events(client, job["id"])]
    missing = [event for event in closing if event not in events]
    assert not missing, f"job {job['id']} read as {job['status']} before {missing}: {events}"


def all_events(client: Client, job_id: str, limit: int = 1000) -> list[dict]:
    """Return every event of a job, following the cursor."""
    events: list[dict] = []
    after = None
    for _ in range(1000):
        params = {"limit": limit, **({"after": after} if after else {})}
        response = client.get(f"/v1/jobs/{job_id}/events", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        events += page["data"]
        if not page["has_more"]:
            return events
        after = page["data"][-1]["id"]
    raise AssertionError(f"events of {job_id} did not end after 1000 pages")


def worker_idle(stack: Stack) -> bool:
    """Whether no task waits in a queue, none is being run, and no job is unfinished."""
    redis = stack.store.redis
    if redis.llen(PIPELINE_QUEUE) or redis.llen(INTERACTIVE_QUEUE) or redis.hlen("unacked"):
        return False
    for jid in redis.zrange("tuneloop:jobs", 0, -1):
        job = stack.store.jobs.get(jid)
        if job is not None and job["status"] not in contracts.TERMINAL:
            return False
    return True


def wait_worker_idle(stack: Stack, timeout: float = 60.0) -> None:
    """Wait until the worker has nothing to do, or fail with its log."""
    redis = stack.store.redis

    def describe() -> str:
        return (
            f"worker to go idle; queued pipeline={redis.llen(PIPELINE_QUEUE)} "
            f"interactive={redis.llen(INTERACTIVE_QUEUE)} unacked={redis.hlen('unacked')}\n"
            f"{stack.logs()}"
        )

    wait_until(lambda: worker_idle(stack), timeout, describe, interval=0.2)


def reset_store(stack: Stack) -> None:
    """Delete Tuneloop's records (not Celery's queues or bindings) once the worker is idle."""
    wait_worker_idle(stack)
    redis = stack.store.redis
    keys = list(redis.scan_iter(match="tuneloop:*", count=1000))
    for start in range(0, len(keys), 500):
        redis.delete(*keys[start : start + 500])


def seeded_store(stack: Stack, words: Mapping[str, str]) -> Iterator[Store]:
    """Yield a wiped store with 20 rows per word of each task; cancel every job left open."""
    reset_store(stack)
    store = Store.from_url(stack.redis_url)
    rows = [
        {"input": f"question {i} about {w}", "output": f"{task} answer", "rating": 0.9}
        | {"task_type": task}
        for task, task_words in words.items()
        for i in range(20)
        for w in task_words.split()
    ]
    store.interactions.add_many(rows)
    yield store
    for jid in store.redis.zrange(keys.JOBS, 0, -1):  # the session's worker waits for these
        store.cancel_job(jid)


def job_with_model(store: Store, size: int = 5) -> tuple[str, str]:
    """Store a running job that has published its model of size bytes, as fine_tune does
    (its stage's lease still held); return both ids."""
    stage = "fine_tune"
    job = store.jobs.create(JobInSchema().load({}), snapshot_seq=0, total_steps=7)
    jid, mid = job["id"], model_id_for(job)
    store.jobs.start_stage(jid, stage)
    holder = f"test|0|{jid}"
    store.leases.acquire(jid, stage, holder)
    meta = {
        "id": mid,
        "object": "model",
        "created_at": now(),
        "owned_by": "tuneloop",
        "base_model": contracts.BASELINE_MODEL_ID,
        "job_id": jid,
        "format": "test",
        "task_types": ["weather"],
        "training_examples": 3,
        "size_bytes": size,
    }
    assert store.models.publish(meta, bytes(size), jid, keys.lease(jid, stage), holder) == 1
    return jid, mid


def evaluate_model(client: Client, stack: Stack, model_id: str, per_task: int = 4) -> dict:
    """Run an evaluation job of a model against the baseline on reworded training inputs;
    return it succeeded."""
    from .faults import training_items  # here: faults imports this module

    cases = [
        {
            "input": item["input"].replace("Question", "Quick query"),
            "expected_type": item["task_type"],
        }
        for item in training_items(per_task)
    ]
    created = client.post("/v1/evaluations", json={"model": model_id, "eval_set": cases})
    assert created.status_code == 202, created.text
    return wait_for_job(client, stack, created.json()["id"])


@contextlib.contextmanager
def crowded_job_index(store: Store, prefix: str, count: int) -> Iterator[str]:
    """Put count ids starting with prefix in the default project's job index (entries only,
    no records: a prefix lookup never reads them); yield prefix, then remove them."""
    index = keys.Space(keys.DEFAULT_PROJECT).jobs
    fake = {f"{prefix}{i:018x}": float(i) for i in range(count)}
    store.redis.zadd(index, fake)
    try:
        yield prefix
    finally:
        store.redis.zrem(index, *fake)


def failed_jobs(client: Client, count: int, task_type: str) -> list[str]:
    """Create count real jobs over a task type without data (they fail at once), wait until
    each has failed, and return their ids, oldest first."""
    ids = []
    for _ in range(count):
        body = {"task_types": [task_type], "include_synthetic": False}
        response = client.post("/v1/jobs", json=body)
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    for job_id in ids:
        wait_until(
            lambda j=job_id: client.get(f"/v1/jobs/{j}").json()["status"] == "failed",
            60,
            lambda j=job_id: j,
        )
    return ids
