"""What a reader sees at the moment a job turns succeeded.

The stages run in this process against the session's real redis-server, so the instant the
job becomes visible as succeeded can be caught deterministically: a spy on JobStore.succeed
reads the job back, as any concurrent GET /v1/jobs/{id} could, right after the write.
"""

import pytest

from tuneloop.pipeline import compare
from tuneloop.pipeline.runner import run_stage, work_of
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.store import Store

from .support import STAGES, Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def seen_at_success(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Run a small job's stages in-process; return the job and events as read at success."""
    store = Store.from_url(stack.redis_url)
    # Only the lab's synthetic examples (snapshot 0 holds no interaction): two task types.
    request = JobInSchema().load(
        {"include_synthetic": True, "lab_eval_set": True, "hyperparameters": {"n_epochs": 2}}
    )
    job = store.jobs.create(request, snapshot_seq=0, total_steps=len(STAGES) + 2)
    for stage in STAGES[:-1]:
        run_stage(store, job["id"], stage, work_of(stage))
    seen: dict = {}
    succeed = store.jobs.succeed

    def succeed_then_read(jid: str, result: dict, alias: tuple | None = None) -> bool:
        done = succeed(jid, result, alias)
        seen["job"] = store.jobs.get(jid)
        seen["events"], _ = store.jobs.events(jid, limit=1000)
        return done

    monkeypatch.setattr(store.jobs, "succeed", succeed_then_read)
    run_stage(store, job["id"], "compare", compare.run)
    seen["final"] = store.jobs.get(job["id"])
    return seen


def test_a_job_run_stage_by_stage_ends_succeeded_with_full_progress(seen_at_success: dict) -> None:
    final = seen_at_success["final"]
    assert final["status"] == "succeeded"
    assert final["progress"]["percent"] == 100.0
    assert seen_at_success["job"]["status"] == "succeeded"


def test_a_job_reads_as_succeeded_only_once_its_last_step_and_event_are_recorded(
    seen_at_success: dict,
) -> None:
    job, events = seen_at_success["job"], seen_at_success["events"]
    assert job["progress"]["percent"] == 100.0, job["progress"]
    finished = {e["data"].get("stage") for e in events if e["type"] == "stage.finished"}
    assert "compare" in finished
