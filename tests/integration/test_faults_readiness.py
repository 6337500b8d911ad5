"""/readyz tells the truth: not ready without a consumer on each needed queue, ready again right
after a Redis restart (a pooled connection from before the restart does not answer 503), and
not ready, saying the store is full, while Redis is at its maxmemory."""

import signal
import time

import pytest
import requests

from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE

from .support import (
    assert_problem,
    client_for,
    fault_stack,
    gunicorn_workers,
    probe_every_worker,
    report_recovery,
    wait_until,
    wait_worker_answers,
)

pytestmark = pytest.mark.integration

ITEM = {"input": "Is the store full?", "output": "Yes.", "rating": 0.9, "task_type": "storage"}


def test_readiness_needs_a_worker_on_the_pipeline_queue_not_just_a_responder() -> None:
    with fault_stack(workers=()) as stack, client_for(stack, None) as anon:
        stack.start_worker("responder", queues=INTERACTIVE_QUEUE)
        problem = assert_problem(anon.get("/readyz"), 503)
        assert PIPELINE_QUEUE in problem["detail"], problem
        stack.start_worker("pipeline", queues=PIPELINE_QUEUE, wait=False)
        started = time.monotonic()
        wait_until(
            lambda: anon.get("/readyz").status_code == 200,
            60.0,
            lambda: f"/readyz to answer 200 once a pipeline worker runs\n{stack.logs()}",
            interval=0.2,
        )
        report_recovery("pipeline worker started -> /readyz 200", time.monotonic() - started)
        ready = anon.get("/readyz").json()
        assert any(w.startswith("pipeline@") for w in ready["workers"]), ready
        assert any(w.startswith("responder@") for w in ready["workers"]), ready


def test_readiness_needs_a_responder_too_not_just_a_pipeline_worker() -> None:
    with fault_stack(workers=()) as stack, client_for(stack, None) as anon:
        stack.start_worker("pipeline", queues=PIPELINE_QUEUE)
        problem = assert_problem(anon.get("/readyz"), 503)
        assert INTERACTIVE_QUEUE in problem["detail"], problem
        assert PIPELINE_QUEUE not in problem["detail"], problem
        stack.start_worker("responder", queues=INTERACTIVE_QUEUE)
        wait_until(
            lambda: anon.get("/readyz").status_code == 200,
            60.0,
            lambda: f"/readyz to answer 200 once a responder runs\n{stack.logs()}",
            interval=0.2,
        )


def test_readiness_answers_200_on_the_first_probe_after_a_redis_restart() -> None:
    with fault_stack() as stack:
        workers = gunicorn_workers(stack)

        def probe(headers: dict[str, str]) -> requests.Response:
            with client_for(stack, None) as fresh:  # a new connection each time
                return fresh.get("/readyz", headers=headers)

        # Every gunicorn worker answers once, so each one's pool holds a connection.
        before = probe_every_worker(stack, probe)
        assert [r.status_code for _, r in before] == [200] * len(before)
        stack.stop_redis(signal.SIGTERM)
        stack.start_redis()
        wait_worker_answers(stack, "w1")
        started = time.monotonic()
        answers = probe_every_worker(stack, probe)  # each worker's first probe is among them
        took = time.monotonic() - started
        report_recovery("redis restart -> /readyz probes", took, f"{len(answers)} probes")
        assert [r.status_code for _, r in answers] == [200] * len(answers), [
            (pid, r.status_code, r.text[:200]) for pid, r in answers
        ]
        assert gunicorn_workers(stack) == workers  # the same workers, none restarted


FILLER = 2 * 2**20  # bytes written before maxmemory is set below what Redis then uses
OVER = 512 * 1024  # bytes Redis stays over its maxmemory while the test looks


def test_readiness_says_the_store_is_full_at_maxmemory_with_its_figures() -> None:
    with fault_stack() as stack, client_for(stack, None) as anon, client_for(stack) as client:
        wait_until(lambda: anon.get("/readyz").status_code == 200, 60.0, stack.logs)
        redis = stack.store.redis
        for i in range(FILLER // 2**16):
            redis.set(f"test:filler:{i}", b"x" * 2**16)
        limit = int(redis.info("memory")["used_memory"]) - OVER
        redis.config_set("maxmemory", limit)  # the launcher's Redis runs with noeviction
        try:
            answer = anon.get("/readyz")
            problem = assert_problem(answer, 503)
            detail = problem["detail"]
            assert detail.startswith("the store is full"), problem
            assert f"maxmemory of {limit} bytes" in detail and "noeviction" in detail, problem
            assert int(answer.headers["Retry-After"]) > 0, answer.headers
            write = client.post("/v1/interactions", json=ITEM)  # the hot lane's path
            assert "the store is full" in assert_problem(write, 503)["detail"], write.text
        finally:
            redis.config_set("maxmemory", 0)
        started = time.monotonic()
        wait_until(lambda: anon.get("/readyz").status_code == 200, 30.0, stack.logs, 0.1)
        report_recovery("maxmemory lifted -> /readyz 200", time.monotonic() - started)
