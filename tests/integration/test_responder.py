"""A model answers while every pipeline worker is busy: the responder has a queue of its own.

A private stack with one pipeline worker (`-Q tuneloop.pipeline`, concurrency 1) kept busy by
a slow fine-tune. Before a responder (`-Q tuneloop.interactive`) runs, asking a model gets the
gateway's 503 once TUNELOOP_RESPOND_TIMEOUT has passed; once one runs, the answer is a 200,
while the pipeline worker is still busy with the same fine-tune.
"""

import time

import pytest

from tuneloop import contracts
from tuneloop.celery_config import INTERACTIVE_QUEUE, PIPELINE_QUEUE

from .support import (
    EPOCH_SLEEP,
    SLOW_EPOCHS,
    assert_problem,
    client_for,
    create_job,
    epochs_in,
    events_of,
    fault_stack,
    holder_pid,
    lease_holder,
    seed_interactions,
    wait_for_epochs,
)

pytestmark = pytest.mark.integration

RESPOND_TIMEOUT = 2.0
N_EPOCHS = 100  # 30 s of fine-tuning at EPOCH_SLEEP: busy for the whole test
ASK = "/v1/models/tuneloop-keyword-baseline/responses"
QUESTION = {"input": "Will it rain in Oslo tomorrow?"}


def test_a_model_answers_while_the_pipeline_worker_is_busy_only_with_a_responder() -> None:
    env = {"TUNELOOP_RESPOND_TIMEOUT": f"{RESPOND_TIMEOUT:g}"}
    with fault_stack(workers=(), gateway_env=env) as stack, client_for(stack) as client:
        stack.start_worker(
            "pipeline", SLOW_EPOCHS, concurrency=1, queues=PIPELINE_QUEUE, wait=False
        )
        seed_interactions(client)
        job_id = create_job(client, N_EPOCHS)  # queued until the worker runs
        wait_for_epochs(stack, job_id, 1)

        started = time.monotonic()
        refused = client.post(ASK, json=QUESTION)
        waited = time.monotonic() - started
        problem = assert_problem(refused, 503)
        assert "no worker answered" in problem["detail"], problem
        assert RESPOND_TIMEOUT - 0.5 < waited < RESPOND_TIMEOUT + 5, waited

        stack.start_worker("responder", concurrency=1, queues=INTERACTIVE_QUEUE)
        answered = client.post(ASK, json=QUESTION)
        assert answered.status_code == 200, f"{answered.text}\n{stack.logs()}"
        assert answered.json()["task_type"] == "weather", answered.json()

        # All along, the only pipeline worker was running the same fine-tune.
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert (job["status"], job["stage"]) == (contracts.RUNNING, "fine_tune"), job
        holder = lease_holder(stack, job_id, "fine_tune") or "nobody|0|"
        assert stack.worker_of(holder_pid(holder)) == "pipeline", holder
        epochs = epochs_in(events_of(stack, job_id))
        assert 1 <= len(epochs) < N_EPOCHS, (epochs, EPOCH_SLEEP)
        assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 200
