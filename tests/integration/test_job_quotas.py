"""Per-project quotas on jobs: not yet ended, and stored; over either, 429, nothing stored."""

import secrets

import pytest

from .support import ApiClient, assert_problem, client_for, fault_stack

pytestmark = pytest.mark.integration

OTHER_KEY = f"quota-other-{secrets.token_hex(16)}"
SAME_KEY = f"quota-same-{secrets.token_hex(16)}"
SETTINGS = {
    "TUNELOOP_MAX_ACTIVE_JOBS": "2",
    "TUNELOOP_MAX_STORED_JOBS": "3",
    "TUNELOOP_API_KEYS": f"other:{OTHER_KEY}:jobs:team-b,same:{SAME_KEY}:jobs:default",
}
JOB = {"include_synthetic": False, "lab_eval_set": True, "hyperparameters": {"n_epochs": 1}}


def post_job(client: ApiClient) -> object:
    return client.post("/v1/jobs", json=JOB)


def test_a_project_at_its_quotas_gets_429_and_other_projects_do_not() -> None:
    # No worker: every job stays queued, so it counts as not yet ended.
    with (
        fault_stack(workers=(), gateway_env=SETTINGS) as stack,
        client_for(stack) as admin,
        client_for(stack, OTHER_KEY) as other,
        client_for(stack, SAME_KEY) as same,
    ):
        first = [post_job(admin) for _ in range(2)]
        assert [r.status_code for r in first] == [202, 202]
        refused = post_job(admin)
        problem = assert_problem(refused, 429)
        assert "'default'" in problem["detail"] and "not yet ended" in problem["detail"]
        assert refused.headers["Retry-After"] == "30"
        assert stack.store.jobs.count() == 2  # the refused job was not stored
        assert_problem(post_job(same), 429)  # another key of the same project: its quota
        assert post_job(other).status_code == 202  # a quota is per project
        cancel = admin.post(
            f"/v1/jobs/{first[0].json()['id']}/cancel",
            headers={"Content-Type": "application/json"},
        )
        assert cancel.status_code == 200, cancel.text[:300]
        assert post_job(admin).status_code == 202  # one ended: room again
        stored = assert_problem(post_job(admin), 429)  # 3 stored: the other quota
        assert "stored jobs" in stored["detail"], stored
        assert stack.store.jobs.count() == 4


def test_at_the_quota_an_idempotent_post_gets_429_and_its_key_stays_free() -> None:
    key = {"Idempotency-Key": f"quota-{secrets.token_hex(8)}"}
    with (
        fault_stack(workers=(), gateway_env={"TUNELOOP_MAX_ACTIVE_JOBS": "1"}) as stack,
        client_for(stack) as admin,
    ):
        first = post_job(admin)
        assert first.status_code == 202, first.text[:300]
        refused = admin.post("/v1/jobs", json=JOB, headers=key)
        assert "not yet ended" in assert_problem(refused, 429)["detail"]
        assert refused.headers["Retry-After"] == "30"
        assert stack.store.jobs.count() == 1  # the refused job was not stored
        again = admin.post("/v1/jobs", json=JOB, headers=key)  # released: not a 409 later
        assert "not yet ended" in assert_problem(again, 429)["detail"]
        assert "Idempotent-Replayed" not in again.headers
        cancel = admin.post(
            f"/v1/jobs/{first.json()['id']}/cancel", headers={"Content-Type": "application/json"}
        )
        assert cancel.status_code == 200, cancel.text[:300]
        created = admin.post("/v1/jobs", json=JOB, headers=key)  # room again: the key runs
        assert created.status_code == 202, created.text[:300]
        replayed = admin.post("/v1/jobs", json=JOB, headers=key)
        assert replayed.json()["id"] == created.json()["id"]
        assert replayed.headers["Idempotent-Replayed"] == "true"
        assert stack.store.jobs.count() == 2
