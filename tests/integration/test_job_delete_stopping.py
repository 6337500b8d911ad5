"""DELETE /v1/jobs/{id} waits for a job to end and for its stages to stop; a job that fails or is
cancelled lets its bulk data expire TUNELOOP_FAILED_JOB_TTL after its end.

A private stack with its own TTL, whose worker's collect waits, after it took its lease, until
a gate file exists (a test shuts the gate to hold a job's first stage in hand), and whose
compare raises (a job fails there, after filter kept its mask).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tuneloop import contracts
from tuneloop.store import keys

from .support import (
    TIMINGS,
    ApiClient,
    Stack,
    assert_problem,
    client_for,
    create_job,
    describe_job,
    lease_holder,
    private_stack,
    seed_interactions,
    wait_for_job,
    wait_until,
)

pytestmark = pytest.mark.integration

TTL = 5000  # the stack's TUNELOOP_FAILED_JOB_TTL
EVAL_SET = [{"input": f"is it sunny in city {i}?", "expected_type": "weather"} for i in range(50)]


@pytest.fixture(scope="module")
def stack(collect_gate: Path) -> Iterator[Stack]:
    """Redis, the gateway and one worker with the failpoints, all with the module's TTL."""
    env = {**TIMINGS, "TUNELOOP_FAILED_JOB_TTL": str(TTL)}
    with private_stack("tuneloop-delete-", env) as stack:
        stack.start_redis(appendfsync=None)
        stack.start_gateway(wait=False)
        stack.start_worker("w1", f"collect=gate:{collect_gate};compare=error", wait=False)
        stack.wait_gateway()
        stack.wait_worker("w1")
        with client_for(stack) as client:
            seed_interactions(client)
        yield stack
        collect_gate.touch()  # a test that failed with the gate shut: let collect end


@pytest.fixture
def api(stack: Stack) -> Iterator[ApiClient]:
    """A client of the module's stack."""
    with client_for(stack) as session:
        yield session


def named_keys(stack: Stack, jid: str) -> list[str]:
    """Every key whose name holds the job's id (SCAN)."""
    return sorted(stack.store.redis.scan_iter(match=f"*{jid}*", count=1000))


def expires_at(stack: Stack, key: str) -> int:
    """The Unix time key expires at: -1 never, -2 no such key."""
    return int(stack.store.redis.execute_command("EXPIRETIME", key))


def test_a_job_is_deleted_only_once_it_has_ended_and_its_stage_has_stopped(
    stack: Stack, api: ApiClient, collect_gate: Path
) -> None:
    collect_gate.unlink()
    try:
        jid = create_job(api, 2, eval_set=EVAL_SET)
        wait_until(
            lambda: lease_holder(stack, jid, "collect"),
            30.0,
            lambda: f"collect to take its lease: {describe_job(stack, jid)}",
            interval=0.02,
        )
        refused = assert_problem(api.delete(f"/v1/jobs/{jid}"), 409)
        assert "is queued: cancel it first" in refused["detail"], refused
        cancelled = api.post(f"/v1/jobs/{jid}/cancel").json()
        assert cancelled["status"] == contracts.CANCELLED
        assert expires_at(stack, keys.job_eval_set(jid)) == cancelled["finished_at"] + TTL
        stopping = api.delete(f"/v1/jobs/{jid}")
        detail = assert_problem(stopping, 409)["detail"]
        assert "its collect stage is still stopping" in detail, detail
        assert stopping.headers["Retry-After"] == "5"
        assert api.get(f"/v1/jobs/{jid}").status_code == 200  # nothing was deleted
    finally:
        collect_gate.touch()
    wait_until(
        lambda: not lease_holder(stack, jid, "collect"),
        30.0,
        lambda: f"collect to stop: {describe_job(stack, jid)}",
        interval=0.05,
    )
    answer = api.delete(f"/v1/jobs/{jid}")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": jid, "object": "fine_tuning.job", "deleted": True}
    assert named_keys(stack, jid) == []


def test_a_job_failed_in_compare_lets_its_eval_set_and_mask_expire_its_ttl_after_its_end(
    stack: Stack, api: ApiClient
) -> None:
    jid = create_job(api, 2, eval_set=EVAL_SET)
    job = wait_for_job(api, stack, jid, expect=contracts.FAILED)
    assert job["error"]["stage"] == "compare", job["error"]
    end = job["finished_at"] + TTL
    for key in (keys.job_eval_set(jid), keys.artifact(jid, "kept")):
        assert expires_at(stack, key) == end, (key, describe_job(stack, jid))
    assert expires_at(stack, keys.job(jid)) == -1  # the record stays until deleted
    assert expires_at(stack, keys.job_events(jid)) == -1
    assert api.delete(f"/v1/jobs/{jid}").status_code == 200
    assert named_keys(stack, jid) == []
