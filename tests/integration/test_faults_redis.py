"""Redis goes away or fills up: nothing answered 2xx is lost, the gateway answers 503 meanwhile.

Each test runs its own redis-server: with an append-only file (appendfsync always) for the
restart, and with a small maxmemory (noeviction) for the full one.
"""

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import redis
import requests

from tuneloop import contracts

from .support import (
    PROBLEM_JSON,
    SLOW_EPOCHS,
    ApiClient,
    Stack,
    all_events,
    assert_problem,
    client_for,
    create_job,
    describe_job,
    fault_stack,
    job_state,
    report_recovery,
    seed_interactions,
    wait_for_epochs,
    wait_for_job,
    wait_until,
)

pytestmark = pytest.mark.integration


def _item(tag: str, size: int = 40) -> dict:
    return {
        "input": f"Is {tag} stored? " + "x" * size,
        "output": f"{tag} is stored.",
        "rating": 0.9,
        "task_type": "durability",
    }


def _stored_ids(client: ApiClient) -> list[str]:
    """Every interaction id, through GET /v1/interactions (oldest first)."""
    ids: list[str] = []
    after = None
    for _ in range(10_000):
        params = {"limit": 1000, **({"after": after} if after else {})}
        response = client.get("/v1/interactions", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [row["id"] for row in page["data"]]
        if not page["has_more"]:
            return ids
        after = ids[-1]
    raise AssertionError("interaction pages did not end")


class Writer:
    """Post interactions one by one in a thread; keep every answer with its send time."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.client = ApiClient(base_url, api_key, timeout=15.0)
        # (sent at, answered at, status or -1 for no answer, content type or error, body)
        self.answers: list[tuple[float, float, int, str, dict | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            sent = time.monotonic()
            try:
                response = self.client.post("/v1/interactions", json=_item(f"write {n}"))
            except Exception as exc:  # recorded, and asserted on
                self.answers.append((sent, time.monotonic(), -1, repr(exc), None))
                time.sleep(0.05)
                continue
            try:
                body = response.json()
            except ValueError:
                body = None
            content_type = response.headers.get("Content-Type", "")
            self.answers.append((sent, time.monotonic(), response.status_code, content_type, body))
            time.sleep(0.02)

    def ok_ids(self) -> list[str]:
        """The ids of the interactions answered 201."""
        return [a[4]["id"] for a in self.answers if a[2] == 201]

    def sent_between(self, start: float, end: float = float("inf")) -> list[tuple]:
        """The answers to requests sent in [start, end)."""
        return [a for a in self.answers if start <= a[0] < end]

    def __enter__(self) -> "Writer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(20)
        self.client.close()


N_EPOCHS = 20
OUTAGE = 3.0  # seconds Redis stays down at least (the 503 answers are awaited too)
RECOVERY_TIMEOUT = 60.0


@dataclass
class Outage:
    """What happened around one stop and restart of Redis during a running job."""

    stack: Stack
    seeded: list[str]
    writer: Writer
    pids_before: dict[str, int]
    job_id: str
    stopped_at: float = 0.0
    restarting_at: float = 0.0
    restarted_at: float = 0.0
    down_answer: requests.Response | None = None
    job: dict = field(default_factory=dict)
    job_ended_after: float | None = None
    first_201_after: float | None = None
    exited: list[str] = field(default_factory=list)


def _live_pids(stack: Stack) -> dict[str, int]:
    return {p.name: p.pid for p in stack.procs if p.name != "redis" and p.alive()}


@pytest.fixture(scope="module")
def outage() -> Iterator[Outage]:
    """Stop Redis (SIGTERM, appendfsync always) mid fine-tune and start it again.

    A writer posts interactions throughout; after the restart this waits for the job to end,
    for the gateway to answer 201 again, or for a process to have exited (then it stops
    waiting). It records what it saw; the tests judge it.
    """
    with (
        fault_stack(appendfsync="always", workers=[("w1", SLOW_EPOCHS)]) as stack,
        client_for(stack) as client,
    ):
        seeded = seed_interactions(client)
        job_id = create_job(client, N_EPOCHS)
        with Writer(stack.base_url, stack.api_key) as writer:
            run = Outage(stack, seeded, writer, _live_pids(stack), job_id)
            _break_and_restart_redis(run, client)
        # The writer has stopped: the tests compare what it was told with what is stored.
        job_note = (
            f"Redis restart -> running job {run.job.get('status')}"
            if run.job_ended_after is not None
            else f"job did not end: {job_state(run.job)}; processes exited: {run.exited}"
        )
        report_recovery(
            "Redis stopped (SIGTERM, appendfsync always) and restarted",
            run.job_ended_after if run.job_ended_after is not None else float("nan"),
            f"{job_note}; Redis restart -> gateway answers 201 again: "
            f"{run.first_201_after if run.first_201_after is not None else float('nan'):.2f} s; "
            f"down {run.restarted_at - run.stopped_at:.2f} s",
        )
        yield run


def _break_and_restart_redis(run: Outage, client: ApiClient) -> None:
    """Stop Redis after two epochs, keep it down OUTAGE s, restart it, watch the recovery."""
    stack, writer, job_id = run.stack, run.writer, run.job_id
    wait_for_epochs(stack, job_id, 2)
    wait_until(
        lambda: len(writer.ok_ids()) >= 5,
        10.0,
        lambda: f"{writer.answers[-5:]}\n{stack.logs()}",
    )
    stack.stop_redis()  # SIGTERM: with appendonly yes the file is complete on disk
    run.stopped_at = time.monotonic()
    wait_until(
        lambda: len(writer.sent_between(run.stopped_at)) >= 3,
        15.0,
        lambda: f"answers while Redis is down: {writer.answers[-5:]}\n{stack.logs()}",
    )
    run.down_answer = client.post("/v1/interactions", json=_item("down"))
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - run.stopped_at)))
    run.restarting_at = time.monotonic()
    stack.start_redis()  # the same port and directory
    run.restarted_at = time.monotonic()

    def settled() -> bool:
        run.exited = sorted(set(run.pids_before) - set(_live_pids(stack)))
        if run.first_201_after is None and (
            ok := [a for a in writer.sent_between(run.restarted_at) if a[2] == 201]
        ):
            run.first_201_after = ok[0][1] - run.restarted_at
        with contextlib.suppress(redis.RedisError):
            job = stack.store.jobs.get(job_id)
            if job["status"] in contracts.TERMINAL and run.job_ended_after is None:
                run.job_ended_after = time.monotonic() - run.restarted_at
            run.job = job
        ended = run.job_ended_after is not None or bool(run.exited)
        return ended and run.first_201_after is not None

    with contextlib.suppress(AssertionError):  # what did not recover is judged by the tests
        wait_until(settled, RECOVERY_TIMEOUT, lambda: "recovery", interval=0.1)


def test_while_redis_is_down_posting_an_interaction_answers_a_503_problem_never_2xx_or_500(
    outage: Outage,
) -> None:
    during = outage.writer.sent_between(outage.stopped_at, outage.restarting_at)
    assert len(during) >= 3, outage.writer.answers[-10:]
    assert {a[2] for a in during} == {503}, [a[:4] for a in during if a[2] != 503][:5]
    assert all(a[3].startswith(PROBLEM_JSON) for a in during), during[:3]
    assert all(a[4]["status"] == 503 for a in during), during[:3]
    problem = assert_problem(outage.down_answer, 503)
    assert "retry" in problem["detail"], problem
    assert int(outage.down_answer.headers["Retry-After"]) > 0
    # Before, during and after: only 201 or 503, never a 500 nor a dropped connection.
    assert {a[2] for a in outage.writer.answers} <= {201, 503}, [
        a[:4] for a in outage.writer.answers if a[2] not in (201, 503)
    ][:5]


def test_every_interaction_answered_2xx_before_the_stop_is_there_after_the_restart(
    outage: Outage,
) -> None:
    with client_for(outage.stack) as client:
        stored = set(_stored_ids(client))
        acknowledged_before = set(outage.seeded) | {
            a[4]["id"] for a in outage.writer.answers if a[2] == 201 and a[1] <= outage.stopped_at
        }
        assert len(acknowledged_before) > len(outage.seeded)
        assert acknowledged_before - stored == set(), sorted(acknowledged_before - stored)[:10]
        acknowledged = set(outage.seeded) | set(outage.writer.ok_ids())
        assert acknowledged - stored == set(), sorted(acknowledged - stored)[:10]
        assert client.get("/v1/interactions/stats").json()["count"] == len(stored)


def test_after_the_restart_the_same_gateway_accepts_new_interactions(outage: Outage) -> None:
    assert outage.first_201_after is not None, outage.writer.answers[-5:]
    assert "gateway" not in outage.exited
    assert outage.stack.proc("gateway").pid == outage.pids_before["gateway"]
    with client_for(outage.stack) as client:
        assert client.post("/v1/interactions", json=_item("after")).status_code == 201


def test_after_the_restart_the_same_worker_finishes_the_running_job(outage: Outage) -> None:
    stack, job_id = outage.stack, outage.job_id
    assert outage.exited == [], f"processes exited: {outage.exited}\n{stack.logs(60)}"
    assert _live_pids(stack) == outage.pids_before
    assert outage.job_ended_after is not None, describe_job(stack, job_id)
    with client_for(stack) as client:
        job = wait_for_job(client, stack, job_id, timeout=10.0)
        epochs = [e["data"]["epoch"] for e in all_events(client, job_id) if e["type"] == "metrics"]
    assert epochs == list(range(1, N_EPOCHS + 1)), epochs
    assert job["model_id"]


HEADROOM = 256 * 1024  # bytes of maxmemory above what Redis uses when the fill starts


@dataclass
class Full:
    """A Redis at maxmemory (noeviction) and the answers that filled it."""

    stack: Stack
    acknowledged: list[str]
    job_id: str
    answers: list[tuple[str, requests.Response]] = field(default_factory=list)


@pytest.fixture(scope="module")
def full_redis() -> Iterator[Full]:
    """Post batches until Redis, limited to its usage plus HEADROOM, refuses one."""
    with fault_stack(workers=()) as stack, client_for(stack) as client:
        acknowledged = seed_interactions(client)
        body = {"include_synthetic": True, "lab_eval_set": True, "hyperparameters": {"n_epochs": 1}}
        job = client.post("/v1/jobs", json=body)
        assert job.status_code == 202, job.text  # no worker: it stays queued
        redis_client = stack.store.redis
        used = int(redis_client.info("memory")["used_memory"])
        redis_client.config_set("maxmemory-policy", "noeviction")
        redis_client.config_set("maxmemory", used + HEADROOM)
        full = Full(stack, acknowledged, job.json()["id"])
        started = time.monotonic()
        # Batches of 20 items of ~1 KB until one is refused, then single items until one is:
        # near the limit used memory moves with client buffers, so a small write may still fit.
        for n in range(2000):
            batch = [_item(f"batch {n} item {i}", size=1000) for i in range(20)]
            response = client.post("/v1/interactions/batch", json={"items": batch})
            full.answers.append(("batch", response))
            if response.status_code != 201:
                break
            full.acknowledged += response.json()["ids"]
        for n in range(5000):
            response = client.post("/v1/interactions", json=_item(f"single {n}", size=1000))
            full.answers.append(("single", response))
            if response.status_code != 201:
                break
            full.acknowledged.append(response.json()["id"])
        filled_after = time.monotonic() - started
        refused = [(kind, r.status_code) for kind, r in full.answers if r.status_code != 201]
        print(f"\nRedis at maxmemory after {filled_after:.2f} s of writes; refused: {refused}")
        yield full


def test_redis_at_maxmemory_answers_writes_with_a_503_problem(full_redis: Full) -> None:
    refused = [(kind, r) for kind, r in full_redis.answers if r.status_code != 201]
    assert [kind for kind, _ in refused] == ["batch", "single"], [
        (kind, r.status_code) for kind, r in refused
    ]
    for _, response in refused:
        problem = assert_problem(response, 503)
        assert "retry" in problem["detail"], problem
        assert int(response.headers["Retry-After"]) > 0, response.headers


def test_redis_at_maxmemory_says_the_store_is_full_in_the_503_of_a_write(full_redis: Full) -> None:
    refused = [(kind, r) for kind, r in full_redis.answers if r.status_code != 201]
    assert refused, "no write was refused"
    for kind, response in refused:
        detail = assert_problem(response, 503)["detail"]
        assert detail.startswith("the store is full (Redis at maxmemory)"), (kind, detail)


def test_redis_at_maxmemory_still_answers_reads_of_stats_and_jobs(full_redis: Full) -> None:
    with client_for(full_redis.stack) as client:
        for path in ("/v1/interactions/stats", f"/v1/jobs/{full_redis.job_id}", "/v1/jobs"):
            response = client.get(path)
            assert response.status_code == 200, f"GET {path}: {response.text}"


def test_redis_at_maxmemory_keeps_every_acknowledged_interaction_and_stores_nothing_refused(
    full_redis: Full,
) -> None:
    stack = full_redis.stack
    refused = [(kind, r.status_code) for kind, r in full_redis.answers if r.status_code != 201]
    assert [kind for kind, _ in refused] == ["batch", "single"], refused
    assert all(status >= 500 for _, status in refused), refused
    with client_for(stack) as client:
        # Reads still work; everything acknowledged is there, nothing refused was half stored.
        stored = _stored_ids(client)  # GET /v1/interactions, while Redis is still full
        assert sorted(stored) == sorted(full_redis.acknowledged)
        assert stack.store.interactions.count() == len(full_redis.acknowledged)
        # With room again, the counts agree and writes are accepted again.
        stack.store.redis.config_set("maxmemory", 0)
        room_at, accepted = time.monotonic(), []

        def accepts() -> bool:
            response = client.post("/v1/interactions", json=_item("room"))
            if response.status_code == 201:
                accepted.append(response.json()["id"])
            return bool(accepted)

        wait_until(accepts, 10.0, lambda: f"a write accepted with room again\n{stack.logs()}")
        report_recovery(
            "Redis at maxmemory (noeviction)",
            time.monotonic() - room_at,
            "maxmemory lifted -> first interaction answered 201",
        )
        stats = client.get("/v1/interactions/stats")
        assert stats.status_code == 200, stats.text
        assert stats.json()["count"] == len(full_redis.acknowledged) + len(accepted)
