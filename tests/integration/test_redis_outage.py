"""Redis stops and comes back: the gateway answers 503 meanwhile, then everything recovers.

The session's own redis-server is stopped (it keeps no data on disk) and restarted on the
same port; the worker and the gateway keep running throughout.
"""

from collections.abc import Iterator

import pytest
import requests

from .support import (
    ApiClient,
    Stack,
    assert_problem,
    client_for,
    gunicorn_workers,
    probe_every_worker,
    wait_for_job,
    wait_until,
    wait_worker_idle,
)

pytestmark = pytest.mark.integration

ITEM = {"input": "Is the outage over?", "output": "Not yet.", "rating": 0.9, "task_type": "ops"}


class RedisOutage:
    """Stop the session's redis-server and start it again on the same port."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.down = False

    def stop(self) -> None:
        self.stack.stop_redis()
        wait_until(
            lambda: not self.stack.redis_answers(), 10.0, lambda: "redis-server to stop answering"
        )
        self.down = True

    def restart(self) -> None:
        if not self.down:
            return
        self.stack.start_redis()  # the same port; waits until it answers PING
        self.down = False


@pytest.fixture(scope="module")
def outage(stack: Stack) -> Iterator[RedisOutage]:
    """Redis is down from here on, until a test restarts it (and always at the end)."""
    wait_worker_idle(stack)
    control = RedisOutage(stack)
    control.stop()
    try:
        yield control
    finally:
        control.restart()


def test_writes_during_a_redis_outage_get_a_503_problem_with_retry_after(
    client: ApiClient, outage: RedisOutage
) -> None:
    for path, body in [
        ("/v1/interactions", ITEM),
        ("/v1/interactions/batch", {"items": [ITEM]}),
        ("/v1/jobs", {"hyperparameters": {"n_epochs": 1}}),
    ]:
        response = client.post(path, json=body)
        problem = assert_problem(response, 503)
        assert "retry" in problem["detail"], problem
        assert int(response.headers["Retry-After"]) > 0


def test_reads_during_a_redis_outage_get_a_503_problem(
    client: ApiClient, outage: RedisOutage
) -> None:
    for path in ("/v1/interactions", "/v1/interactions/stats", "/v1/jobs", "/v1/models"):
        assert_problem(client.get(path), 503)


def test_readiness_fails_and_liveness_holds_during_a_redis_outage(
    anon: ApiClient, outage: RedisOutage
) -> None:
    assert anon.get("/healthz").status_code == 200
    ready = anon.get("/readyz")
    problem = assert_problem(ready, 503)
    assert "redis" in problem["detail"], problem


def test_authentication_and_validation_still_answer_during_a_redis_outage(
    client: ApiClient, anon: ApiClient, outage: RedisOutage
) -> None:
    assert_problem(anon.get("/v1/jobs"), 401)
    assert_problem(client.post("/v1/interactions", json={**ITEM, "rating": 2}), 422, ["rating"])


def test_asking_a_model_during_a_redis_outage_gets_a_503_problem(
    client: ApiClient, outage: RedisOutage
) -> None:
    response = client.post(
        "/v1/models/tuneloop-keyword-baseline/responses", json={"input": "Will it rain?"}
    )
    assert_problem(response, 503)


def test_after_redis_comes_back_the_same_processes_run_a_job_to_success(
    client: ApiClient, anon: ApiClient, stack: Stack, outage: RedisOutage
) -> None:
    pids = {p.name: p.pid for p in stack.procs if p.name != "redis"}
    workers = gunicorn_workers(stack)
    outage.restart()
    last: dict = {}

    def ready() -> bool:
        response = anon.get("/readyz")
        last["readyz"] = f"{response.status_code} {response.text[:200]}"
        return response.status_code == 200

    wait_until(ready, 60.0, lambda: f"/readyz after the restart: {last}\n{stack.logs()}", 0.5)
    items = [
        {
            "input": f"{word} question {i}",
            "output": f"{word} answer {i}",
            "rating": 0.9,
            "task_type": task,
        }
        for task, word in (("recovery-a", "alpha"), ("recovery-b", "bravo"))
        for i in range(4)
    ]
    posted = client.post("/v1/interactions/batch", json={"items": items})
    assert posted.status_code == 201, posted.text
    created = client.post(
        "/v1/jobs",
        json={"include_synthetic": False, "lab_eval_set": True, "hyperparameters": {"n_epochs": 2}},
    )
    assert created.status_code == 202, created.text[:300]
    job = wait_for_job(client, stack, created.json()["id"], timeout=90.0)

    def ask(headers: dict[str, str]) -> requests.Response:
        with client_for(stack) as fresh:  # a new connection each time
            path = f"/v1/models/{job['model_id']}/responses"
            return fresh.post(path, json={"input": "alpha?"}, headers=headers)

    # Until every gunicorn worker of the gateway (the same ones as before) has answered.
    for pid, answer in probe_every_worker(stack, ask):
        assert answer.status_code == 200, f"worker {pid}: {answer.text}\n{stack.logs()}"
        assert answer.json()["task_type"] in {"recovery-a", "recovery-b"}
    assert gunicorn_workers(stack) == workers
    assert {p.name: p.pid for p in stack.procs if p.name != "redis"} == pids
    assert all(p.alive() for p in stack.procs)
