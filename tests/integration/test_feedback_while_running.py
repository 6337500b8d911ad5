"""Edits and deletes while a job runs: the job keeps its snapshot; a later job sees the changes.

A private stack whose worker waits at the start of `prepare` until the test opens a gate: the
filter has read the snapshot and kept its mask of rows, and every later stage reads the
snapshot again (prepare, fine_tune, the evaluations of held-out rows). The edits land while
the gate is shut, however slow the machine, and the test opens it after checking them.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tuneloop.stages.collect import to_example
from tuneloop.stages.prepare import SplitCounter

from .support import (
    ApiClient,
    Stack,
    client_for,
    events_of,
    fault_stack,
    training_items,
    wait_for_job,
    wait_until,
)

pytestmark = pytest.mark.integration

SEED, HOLDOUT = 42, 0.2
REQUEST = {
    "min_score": 0.8,
    "include_synthetic": False,
    "holdout_fraction": HOLDOUT,
    "lab_eval_set": True,
    "hyperparameters": {"n_epochs": 2, "seed": SEED, "early_stopping_patience": None},
}


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file whose creation lets prepare start."""
    return tmp_path_factory.mktemp("gate") / "prepare-may-start"


@pytest.fixture(scope="module")
def slow_prepare(gate: Path) -> Iterator[tuple[Stack, ApiClient]]:
    """A private stack whose worker waits before each prepare stage until the gate opens."""
    workers = [("w1", f"prepare=gate:{gate}")]
    with fault_stack(workers=workers) as stack, client_for(stack) as client:
        yield stack, client
        gate.touch()  # a test that failed early: let a waiting prepare end before the stop


def low_items() -> list[dict]:
    return [
        {
            "input": f"Low rated question {n} about the {word}?",
            "output": f"Low rated answer {n}.",
            "rating": 0.3,
            "task_type": task,
        }
        for n, (word, task) in enumerate(
            [("rain", "weather"), ("hotel", "travel"), ("refund", "billing")] * 2
        )
    ]


def expected_training_data(records: list[dict], dropped: dict) -> dict:
    """The training data prepare reports for exactly these kept records."""
    counter = SplitCounter(SEED, HOLDOUT)
    counter.feed([to_example(r) for r in records])
    return counter.summary(dropped)


def collected(stack: Stack, job_id: str) -> int:
    (event,) = [e for e in events_of(stack, job_id) if e.get("data", {}).get("collected")]
    return event["data"]["collected"]


def test_a_running_job_keeps_its_snapshot_and_a_later_job_sees_the_edits(
    slow_prepare: tuple[Stack, ApiClient], gate: Path
) -> None:
    stack, client = slow_prepare
    good, low = training_items(), low_items()
    posted = client.post("/v1/interactions/batch", json={"items": good + low})
    assert posted.status_code == 201, posted.text
    ids = posted.json()["ids"]
    records = [{**it, "id": iid} for it, iid in zip(good + low, ids, strict=True)]
    good_records, low_records = records[: len(good)], records[len(good) :]

    first = client.post("/v1/jobs", json=REQUEST).json()["id"]
    wait_until(
        lambda: "filter" in stack.store.jobs.steps_done(first),
        60,
        lambda: f"job {first} to be filtered\n{stack.logs()}",
        interval=0.05,
    )
    raised, lowered = low_records[:3], good_records[:2]
    deleted, moved = good_records[2:6], good_records[6]
    for r in raised:
        assert client.patch(f"/v1/interactions/{r['id']}", json={"rating": 0.95}).ok
    for r in lowered:
        assert client.patch(f"/v1/interactions/{r['id']}", json={"rating": 0.1}).ok
    for r in deleted:
        assert client.delete(f"/v1/interactions/{r['id']}").ok
    assert client.patch(f"/v1/interactions/{moved['id']}", json={"task_type": "billing"}).ok
    # The edits landed while the job ran, before any stage after the filter read the rows.
    assert stack.store.jobs.get(first)["status"] == "running"
    assert "prepare" not in stack.store.jobs.steps_done(first)
    assert stack.store.interactions.versions_kept() == len(raised + lowered + deleted) + 1

    second = client.post("/v1/jobs", json=REQUEST).json()["id"]
    gate.touch()  # now prepare may read the rows, for both jobs
    job = wait_for_job(client, stack, first)
    later = wait_for_job(client, stack, second)

    # The running job: every stage read the rows as they were when it was created.
    assert collected(stack, first) == len(good) + len(low)
    assert job["result"]["training_data"] == expected_training_data(
        good_records, {"below_min_score": len(low)}
    )
    evaluated = job["result"]["fine_tuned_metrics"]["n_cases"]
    assert evaluated == 5 + job["result"]["training_data"]["holdout_examples"]

    # The job created after the edits: deleted rows gone, edited rows as edited.
    gone = {r["id"] for r in lowered + deleted}
    now_kept = [
        {**r, "task_type": "billing"} if r is moved else r
        for r in good_records + raised
        if r["id"] not in gone
    ]
    now_kept.sort(key=lambda r: ids.index(r["id"]))  # creation order, as the snapshot reads
    assert collected(stack, second) == len(good) + len(low) - len(deleted)
    assert later["result"]["training_data"] == expected_training_data(
        now_kept, {"below_min_score": len(low) - len(raised) + len(lowered)}
    )

    # Both jobs ended: nothing holds the old versions any more.
    assert stack.store.interactions.versions_kept() == 0
    gone_file = client.get(f"/v1/jobs/{first}/training_file")
    assert gone_file.status_code == 409 and "edited or deleted" in gone_file.json()["detail"]
    lines = client.get(f"/v1/jobs/{second}/training_file").text.splitlines()
    assert len(lines) == later["result"]["training_data"]["total_examples"]
