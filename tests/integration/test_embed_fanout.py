"""The embed stage fanned out over real workers: parts on two processes, the cache, a kill.

Private stacks running jobs of `tuneloop-e5-small` (the encoder kind: real E5 encodings
into the shared cache, then its own trainer). Two workers of one process each; parts of 32
texts; about 200 rows.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tuneloop import contracts
from tuneloop.celery_config import PIPELINE_QUEUE
from tuneloop.encoder.spec import BASE_MODEL
from tuneloop.store import keys
from tuneloop.store.parts import part_step

from .support import (
    STAGES,
    ApiClient,
    Stack,
    alive,
    all_events,
    client_for,
    create_job,
    deliveries,
    describe_job,
    private_stack,
    seed_interactions,
    wait_for_job,
    wait_until,
)
from .support.stacks import TIMINGS

pytestmark = pytest.mark.integration

PART_SIZE = 32
PER_TASK = 67  # three task types: 201 rows, with the lab's five cases 206 texts, 7 parts
N_EPOCHS = 3


def embed_env(**extra: str) -> dict[str, str]:
    """The settings of every process: parts of PART_SIZE, short timings."""
    return {
        **TIMINGS,
        "TUNELOOP_EMBED_PART_SIZE": str(PART_SIZE),
        **extra,
    }


def start(stack: Stack, failpoints: str = "") -> None:
    """Start redis, the gateway and two workers of one process each; wait for all."""
    stack.start_redis(None)
    stack.start_gateway(wait=False)
    for name in ("w1", "w2"):
        stack.start_worker(name, failpoints, concurrency=1, wait=False)
    stack.wait_gateway()
    for name in ("w1", "w2"):
        stack.wait_worker(name)


@pytest.fixture(scope="module")
def embedding_stack() -> Iterator[tuple[Stack, ApiClient]]:
    """A stack of two one-process workers whose parts take at least 0.2 s, with ~200 rows."""
    with private_stack("tuneloop-embed-", embed_env()) as stack:
        start(stack, "embed_part=sleep:0.2")
        with client_for(stack) as client:
            seed_interactions(client, PER_TASK)
            yield stack, client


def events(client: ApiClient, job_id: str, key: str) -> list[dict]:
    """Return the data of the job's events whose message starts with key."""
    return [e["data"] for e in all_events(client, job_id) if e["message"].startswith(key)]


def plan_of(client: ApiClient, job_id: str) -> dict:
    """Return the data of the job's one embed:plan event."""
    [plan] = [d for d in events(client, job_id, "embed: ") if "to_encode" in d]
    return plan


def summary_of(client: ApiClient, job_id: str) -> dict:
    """Return the data of the job's one embed:summary event."""
    [summary] = [d for d in events(client, job_id, "embed: ") if "workers" in d]
    return summary


def parts_counted(stack: Stack, job_id: str) -> list[str]:
    """Return the job's progress steps that count embed parts."""
    return [s for s in stack.store.jobs.steps_done(job_id) if s.startswith("embed:part:")]


def part_step_of(index: int) -> str:
    """Return the progress step of embed's part index."""
    return part_step("embed", index)


def embed_job(client: ApiClient) -> str:
    """POST a job fine-tuning tuneloop-e5-small; return its id."""
    return create_job(client, N_EPOCHS, model=BASE_MODEL)


def test_the_parts_run_on_both_workers_and_the_progress_counts_them(
    embedding_stack: tuple[Stack, ApiClient],
) -> None:
    stack, client = embedding_stack
    job = wait_for_job(client, stack, embed_job(client), timeout=90.0)
    plan, summary = plan_of(client, job["id"]), summary_of(client, job["id"])
    n = plan["parts"]
    assert (plan["texts"], plan["to_encode"], n) == (206, 206, 7), plan
    assert summary["encoded"] == 206 and summary["parts"] == n, summary
    assert len(summary["workers"]) == 2, summary  # two processes ran parts
    print(f"\nEMBED two one-process workers: {summary}", flush=True)  # visible with -s
    assert summary["texts_per_s"] > 0
    assert sorted(parts_counted(stack, job["id"])) == sorted(
        part_step("embed", i) for i in range(n)
    )
    assert stack.store.parts.done(job["id"], "embed") == set(range(n))
    total = len(STAGES) + N_EPOCHS + n
    assert job["progress"] == {"current": total, "total": total, "percent": 100.0}
    assert job["result"]["embedding"] == {
        "texts": 206,
        "encoded": 206,
        "cached": 0,
        "parts": n,
        "seconds": summary["seconds"],
    }


def test_a_second_job_over_the_same_rows_plans_nothing_to_encode(
    embedding_stack: tuple[Stack, ApiClient],
) -> None:
    stack, client = embedding_stack
    job = wait_for_job(client, stack, embed_job(client), timeout=90.0)
    plan = plan_of(client, job["id"])
    assert (plan["to_encode"], plan["cached"], plan["parts"]) == (0, 206, 0), plan
    assert job["result"]["embedding"]["encoded"] == 0
    assert parts_counted(stack, job["id"]) == []
    total = len(STAGES) + N_EPOCHS
    assert job["progress"] == {"current": total, "total": total, "percent": 100.0}


def test_a_default_kind_job_passes_embed_at_once(
    embedding_stack: tuple[Stack, ApiClient],
) -> None:
    stack, client = embedding_stack
    job = wait_for_job(client, stack, create_job(client, N_EPOCHS), timeout=90.0)
    finished = [
        e["data"]
        for e in all_events(client, job["id"])
        if e["type"] == "stage.finished" and e["data"]["stage"] == "embed"
    ]
    assert len(finished) == 1 and "parts" not in finished[0]
    assert events(client, job["id"], "embed: ") == []  # no plan, no summary
    assert "embedding" not in job["result"]
    total = len(STAGES) + N_EPOCHS
    assert job["progress"] == {"current": total, "total": total, "percent": 100.0}


def test_a_worker_killed_mid_embed_loses_no_part_and_counts_none_twice(tmp_path: Path) -> None:
    gate = tmp_path / "open"
    env = embed_env()
    with private_stack("tuneloop-embed-kill-", env) as stack:
        start(stack, f"embed_part=gate:{gate}")
        client = client_for(stack)
        seed_interactions(client, PER_TASK)
        job_id = embed_job(client)

        def both_hold_a_part() -> bool:
            counts = deliveries(stack, job_id)
            return sum(n for k, n in counts.items() if k.startswith("embed#")) >= 2

        wait_until(
            both_hold_a_part, 60.0, lambda: f"two parts running: {describe_job(stack, job_id)}"
        )
        w1 = stack.proc("w1").pid
        doomed = [w1, *_pool_children(w1)]
        stack.kill("w1")  # kill -9 of the whole worker while its part runs
        wait_until(lambda: not any(map(alive, doomed)), 5.0, "w1 and its pool to die")
        gate.touch()
        job = wait_for_job(client, stack, job_id, timeout=90.0)

        n = plan_of(client, job_id)["parts"]
        assert n == 7
        assert stack.store.parts.done(job_id, "embed") == set(range(n))  # none lost
        assert stack.store.redis.scard(keys.job_parts_done(job_id, "embed")) == n
        assert sorted(parts_counted(stack, job_id)) == sorted(map(part_step_of, range(n)))
        assert len(events(client, job_id, "embed: part")) == n  # one event a part
        total = len(STAGES) + N_EPOCHS + n
        assert job["progress"] == {"current": total, "total": total, "percent": 100.0}
        starts = {k: v for k, v in deliveries(stack, job_id).items() if k.startswith("embed#")}
        assert sorted(starts.values()) == [1] * (n - 1) + [2], starts  # the lost one ran again
        redriven = [e for e in all_events(client, job_id) if e["type"] == "stage.redriven"]
        assert redriven == []  # it came back by itself (late ack), not sent by the sweeper
        summary = summary_of(client, job_id)
        [worker] = summary["workers"]  # w1 finished none: every part waited at the gate
        assert int(worker.rsplit(":", 1)[1]) in _pool_children(stack.proc("w2").pid), worker
        assert summary["parts"] == n and summary["encoded"] == 206
        assert job["status"] == contracts.SUCCEEDED


def _pool_children(pid: int) -> list[int]:
    """Return the child processes of pid (a worker's pool)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_a_job_whose_parts_were_all_lost_is_sent_again_and_sends_only_the_parts_not_done() -> None:
    with private_stack("tuneloop-embed-lost-", embed_env()) as stack:
        stack.start_redis(None)
        stack.start_gateway()
        stack.start_worker("w1", "embed_part=sleep:0.5", concurrency=1)
        client = client_for(stack)
        seed_interactions(client, PER_TASK)
        job_id = embed_job(client)
        wait_until(
            lambda: len(stack.store.parts.done(job_id, "embed")) >= 2,
            60.0,
            lambda: f"two parts done: {describe_job(stack, job_id)}",
            interval=0.02,
        )
        stack.kill("w1")
        done_before = stack.store.parts.done(job_id, "embed")
        # Every message is lost: the queued parts, and the one w1 held.
        assert stack.store.redis.delete(PIPELINE_QUEUE, "unacked", "unacked_index") >= 1
        stack.start_worker("w2", concurrency=1, env={"TUNELOOP_SWEEP_INTERVAL": "1"})
        job = wait_for_job(client, stack, job_id, timeout=90.0)

        redriven = [e["data"] for e in all_events(client, job_id) if e["type"] == "stage.redriven"]
        assert len(redriven) == 1 and "embed" in redriven[0]["stages"], redriven
        n = plan_of(client, job_id)["parts"]  # planned once
        assert stack.store.parts.done(job_id, "embed") == set(range(n))
        assert sorted(parts_counted(stack, job_id)) == sorted(map(part_step_of, range(n)))
        starts = deliveries(stack, job_id)
        assert all(starts[f"embed#{i}"] == 1 for i in done_before), (done_before, starts)
        total = len(STAGES) + N_EPOCHS + n
        assert job["progress"] == {"current": total, "total": total, "percent": 100.0}
