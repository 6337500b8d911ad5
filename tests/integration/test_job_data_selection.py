"""Which stored interactions a job trains on: its snapshot and every filter rule, counted."""

import pytest

from tuneloop.agent.lab import SYNTHETIC_EXAMPLES

from .support import ApiClient, Stack, reset_store, wait_for_job

pytestmark = pytest.mark.integration

TASKS = ["selection-red", "selection-blue"]
EVAL_INPUT = "Which shade of red suits a kitchen?"


def rated(i: int, task: str, rating: float = 0.9, **changes: object) -> dict:
    word = "crimson" if task == TASKS[0] else "azure"
    item = {
        "input": f"Tell me about {word} paint number {i}",
        "output": f"{word} paint {i} dries in an hour.",
        "rating": rating,
        "task_type": task,
    }
    return {**item, **changes}


@pytest.fixture(scope="module")
def selection(client: ApiClient, stack: Stack) -> dict:
    """Post data exercising every drop reason, create the job, then post more data."""
    reset_store(stack)
    good = [rated(i, task) for task in TASKS for i in range(6)]
    items = [
        *good,
        rated(100, TASKS[0], rating=0.5),  # below_min_score
        rated(101, TASKS[1], rating=0.79),  # below_min_score
        {**good[0]},  # duplicate: same input, output and task type
        {**good[1], "input": "  " + good[1]["input"].upper() + " "},  # duplicate once normalized
        rated(102, TASKS[0], input=EVAL_INPUT),  # in_evaluation_set
        rated(103, TASKS[0], input=EVAL_INPUT.lower()),  # in_evaluation_set once normalized
        rated(104, "selection-green"),  # task_type_not_selected
        {**good[2], "task_type": TASKS[1]},  # same text, other task: not a duplicate
    ]
    posted = client.post("/v1/interactions/batch", json={"items": items})
    assert posted.status_code == 201, posted.text
    request = {
        "task_types": TASKS,
        "include_synthetic": True,
        "eval_set": [{"input": EVAL_INPUT, "expected_type": TASKS[0]}],
        "hyperparameters": {"n_epochs": 2},
    }
    created = client.post("/v1/jobs", json=request)
    assert created.status_code == 202, created.text[:300]
    # Posted after the job was created: outside its snapshot, whenever collect runs.
    late = [rated(200 + i, TASKS[0]) for i in range(5)]
    assert client.post("/v1/interactions/batch", json={"items": late}).status_code == 201
    job = wait_for_job(client, stack, created.json()["id"])
    return {"job": job, "items": items, "good": good}


def test_a_job_trains_only_on_interactions_stored_before_it_was_created(selection: dict) -> None:
    data = selection["job"]["result"]["training_data"]
    seen = data["total_examples"] + data["validation_examples"] + data["holdout_examples"]
    seen += sum(data["dropped"].values())
    assert seen == len(selection["items"]) + len(SYNTHETIC_EXAMPLES)


def test_the_filter_counts_every_dropped_example_by_its_reason(selection: dict) -> None:
    synthetic_low = sum(ex["rating"] < 0.8 for ex in SYNTHETIC_EXAMPLES)
    data = selection["job"]["result"]["training_data"]
    assert data["dropped"] == {
        "below_min_score": 2 + synthetic_low,
        "duplicate": 2,
        "in_evaluation_set": 2,
        "task_type_not_selected": 1 + len(SYNTHETIC_EXAMPLES) - synthetic_low,
    }
    kept = {TASKS[0]: 6, TASKS[1]: 7}
    for task, n in kept.items():
        trained = data["task_distribution"][task] + data["validation_distribution"].get(task, 0)
        assert trained == n, task
