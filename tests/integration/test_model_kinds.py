"""A second model kind, one module and one registration, trains and answers a whole job.

A private stack's worker and gateway start with TUNELOOP_MODEL_KINDS=majority_kind (the module
in kinds/): a job naming its base model is trained by its trainer, evaluated through its
agent, published with its format, and answers through the API, on a real worker.
"""

import math
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuneloop.stages.prepare import TRAIN, side_of

from .support import ApiClient, Stack, assert_problem, client_for, full_stack, wait_for_job

pytestmark = pytest.mark.integration

KINDS_DIR = Path(__file__).parent / "kinds"
# The kind kinds/majority_kind.py registers (not imported here: this process keeps its own).
FORMAT, BASE_MODEL = "tests.majority/1", "tests-majority"
SEED = 7
TASKS = {"billing": 12, "hiking": 6, "baking": 6}  # billing is the majority
EVAL = {"billing": 3, "hiking": 2, "baking": 1}


def items() -> list[dict]:
    """Rated interactions: distinct inputs, billing the most frequent task type."""
    return [
        {
            "input": f"question {i} about {task}",
            "output": f"answer {i} on {task}",
            "rating": 0.8 + i / 100,
            "task_type": task,
        }
        for task, n in TASKS.items()
        for i in range(n)
    ]


def eval_set() -> list[dict]:
    """Cases the job is evaluated on: EVAL of each task type."""
    return [
        {"input": f"new case {i} of {task}", "expected_type": task}
        for task, n in EVAL.items()
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def kinds() -> Iterator[tuple[Stack, ApiClient]]:
    """A stack whose worker and gateway register the majority kind at start-up, a client."""
    path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(KINDS_DIR)]))
    env = {"TUNELOOP_MODEL_KINDS": "majority_kind", "PYTHONPATH": path}
    with full_stack("tuneloop-kinds-", env) as stack, client_for(stack) as client:
        stack.wait_worker("worker")
        yield stack, client


@pytest.fixture(scope="module")
def job(kinds: tuple[Stack, ApiClient]) -> dict:
    """A job fine-tuning the majority kind's base model, ended."""
    kinds_stack, kinds_client = kinds
    posted = kinds_client.post("/v1/interactions/batch", json={"items": items()})
    assert posted.status_code == 201, posted.text[:300]
    body = {
        "model": BASE_MODEL,
        "eval_set": eval_set(),
        "hyperparameters": {"n_epochs": 1, "seed": SEED},
    }
    created = kinds_client.post("/v1/jobs", json=body)
    assert created.status_code == 202, created.text[:300]
    return wait_for_job(kinds_client, kinds_stack, created.json()["id"])


def test_a_job_naming_the_kinds_base_model_is_trained_by_its_trainer(job: dict) -> None:
    trained = Counter(
        row["task_type"] for row in items() if side_of(row["input"], SEED, None) == TRAIN
    )
    assert job["request"]["model"] == BASE_MODEL
    assert [e["epoch"] for e in job["result"]["epochs"]] == [1]
    entropy = -sum(k / trained.total() * math.log(k / trained.total()) for k in trained.values())
    assert job["result"]["epochs"][0]["train_loss"] == pytest.approx(entropy)
    fine_tuned = job["result"]["fine_tuned_metrics"]
    assert fine_tuned["task_accuracy"] == pytest.approx(EVAL["billing"] / sum(EVAL.values()))
    assert fine_tuned["average_confidence"] == pytest.approx(trained["billing"] / trained.total())


def test_the_model_is_published_with_the_kinds_format_and_answers_through_the_api(
    job: dict, kinds: tuple[Stack, ApiClient]
) -> None:
    kinds_client = kinds[1]
    mid = job["result"]["model_id"]
    model = kinds_client.get(f"/v1/models/{mid}").json()
    assert model["format"] == FORMAT
    assert model["base_model"] == BASE_MODEL
    assert model["task_types"] == sorted(TASKS)
    asked = kinds_client.post(f"/v1/models/{mid}/responses", json={"input": "anything at all"})
    assert asked.status_code == 200, asked.text[:300]
    best_billing = max(
        (row for row in items() if row["task_type"] == "billing"),
        key=lambda row: (side_of(row["input"], SEED, None) == TRAIN, row["rating"]),
    )
    assert asked.json()["task_type"] == "billing"
    assert asked.json()["text"] == best_billing["output"]


def test_a_base_model_no_kind_here_trains_is_refused_naming_the_field(client: ApiClient) -> None:
    response = client.post("/v1/jobs", json={"model": BASE_MODEL})
    assert_problem(response, 400, ["model"])
