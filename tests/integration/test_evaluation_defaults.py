"""Defaults that must not mislead: a job is scored on the user's own held-out rows unless it
asks for something else, the lab's data comes only when asked for, and a job's training file
uploaded through the openai SDK trains the same task types again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import openai
import pytest
from tuneloop_devstack.stack import Stack

from tuneloop.contracts import BASELINE_MODEL_ID
from tuneloop.stages.prepare import HOLDOUT, side_of

from .support import API_KEY, ApiClient, all_events, upload_checked, wait_for_job, wait_until

pytestmark = pytest.mark.integration

TASKS = ("dflt_cards", "dflt_loans", "dflt_rates")  # task types no other module posts
PER_TASK = 30
SEED = 42
LAB_TASKS = {"weather", "travel", "general"}
WORDS = {
    "dflt_cards": "my debit card has not arrived",
    "dflt_loans": "can I borrow money for a loan",
    "dflt_rates": "what is the exchange rate today",
}


def own_rows() -> list[dict]:
    """PER_TASK distinct rated rows of each of TASKS."""
    return [
        {
            "input": f"{WORDS[task]} (question {i})",
            "output": f"About {task.removeprefix('dflt_')}: answer {i}.",
            "rating": 0.9,
            "task_type": task,
        }
        for task in TASKS
        for i in range(PER_TASK)
    ]


def post_rows(client: ApiClient, rows: list[dict]) -> None:
    """Store rows through the API."""
    response = client.post("/v1/interactions/batch", json={"items": rows})
    assert response.status_code == 201, response.text[:300]


def run(client: ApiClient, stack: Stack, request: dict, expect: str = "succeeded") -> dict:
    """Create a job over TASKS (plus any the request adds) and wait for it to end."""
    created = client.post("/v1/jobs", json=request)
    assert created.status_code == 202, created.text[:300]
    return wait_for_job(client, stack, created.json()["id"], expect=expect)


def training_lines(client: ApiClient, job_id: str) -> list[dict]:
    """The job's training file, decoded line by line."""
    response = client.get(f"/v1/jobs/{job_id}/training_file")
    assert response.status_code == 200, response.text[:300]
    return [json.loads(line) for line in response.text.splitlines()]


@pytest.fixture(scope="module")
def default_job(client: ApiClient, stack: Stack) -> dict:
    """A job that names nothing to evaluate on, over rows of TASKS only."""
    post_rows(client, own_rows())
    return run(client, stack, {"task_types": list(TASKS), "hyperparameters": {"n_epochs": 2}})


def test_a_default_job_is_evaluated_on_a_fifth_of_its_own_rows_never_the_lab_cases(
    client: ApiClient, default_job: dict
) -> None:
    request, result = default_job["request"], default_job["result"]
    assert request["holdout_fraction"] == 0.2 and request["holdout_per_task"] is True
    assert request["lab_eval_set"] is False and request["include_synthetic"] is False
    held = result["training_data"]["holdout_distribution"]
    assert set(held) == set(TASKS) and all(n >= 1 for n in held.values())
    n_held = result["training_data"]["holdout_examples"]
    assert 0.1 * len(TASKS) * PER_TASK <= n_held <= 0.3 * len(TASKS) * PER_TASK
    for name in ("baseline_metrics", "fine_tuned_metrics"):
        assert result[name]["n_cases"] == n_held, name  # the held-out rows, and nothing else
        assert set(result[name]["by_task_type"]) == set(TASKS), name
    trained = {line["messages"][0]["content"] for line in training_lines(client, default_job["id"])}
    evaluated = {example["input"] for example in result["examples"]}
    assert evaluated and not evaluated & trained  # held-out rows are never trained on


def collected(client: ApiClient, job_id: str) -> int:
    """How many examples the job's collect stage counted."""
    [event] = [e for e in all_events(client, job_id) if "collected" in e["data"]]
    return event["data"]["collected"]


def test_a_default_job_collects_no_synthetic_example(
    client: ApiClient, stack: Stack, default_job: dict
) -> None:
    snapshot = stack.store.jobs.get(default_job["id"])["snapshot_seq"]
    assert collected(client, default_job["id"]) == stack.store.interactions.snapshot_size(snapshot)


def test_the_lab_cases_and_synthetic_examples_come_when_asked_for(
    client: ApiClient, stack: Stack, default_job: dict
) -> None:
    request = {
        "task_types": [*TASKS, *sorted(LAB_TASKS)],
        "lab_eval_set": True,
        "include_synthetic": True,
        "hyperparameters": {"n_epochs": 2},
    }
    job = run(client, stack, request)
    assert "holdout_fraction" not in job["request"]
    assert job["result"]["baseline_metrics"]["n_cases"] == 5
    assert set(job["result"]["baseline_metrics"]["by_task_type"]) == LAB_TASKS
    snapshot = stack.store.jobs.get(job["id"])["snapshot_seq"]
    assert collected(client, job["id"]) == stack.store.interactions.snapshot_size(snapshot) + 5


def test_a_job_with_nothing_to_evaluate_on_fails_at_prepare_saying_so(
    client: ApiClient, stack: Stack
) -> None:
    # Two task types with one distinct input each (rated twice): the hash keeps both in
    # training, and a single input is never forced out, so nothing is held out.
    inputs = (f"lonely question {i}" for i in range(1000))
    chosen = [t for t in inputs if side_of(t, SEED, 0.2) != HOLDOUT][:2]
    tasks = ("dflt_lonely_a", "dflt_lonely_b")
    rows = [
        {"input": text, "output": f"answer {k}", "rating": 0.9, "task_type": task}
        for text, task in zip(chosen, tasks, strict=True)
        for k in range(2)
    ]
    post_rows(client, rows)
    job = run(client, stack, {"task_types": list(tasks)}, expect="failed")
    error = job["error"]
    assert (error["code"], error["stage"]) == ("empty_evaluation_set", "prepare"), error
    assert "the evaluation set would be empty" in error["message"]
    assert "holdout_fraction 0.2 held out no row" in error["message"]
    assert job["model_id"] is None and job["result"] is None


# --- the training file round trip through the openai SDK --------------------------------


@pytest.fixture(scope="module")
def sdk(stack: Stack) -> Iterator[openai.OpenAI]:
    """The official client, pointed at the gateway, without retries."""
    with openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=API_KEY, max_retries=0) as c:
        yield c


def wait_sdk_job(client: ApiClient, stack: Stack, sdk: openai.OpenAI, job_id: str) -> dict:
    """Wait for a job created through the SDK; return our own view of it."""
    wait_for_job(client, stack, job_id)
    return client.get(f"/v1/jobs/{job_id}").json()


def model_task_types(client: ApiClient, model_id: str) -> list[str]:
    """The task types a stored model routes among."""
    response = client.get(f"/v1/models/{model_id}")
    assert response.status_code == 200, response.text[:300]
    return response.json()["task_types"]


def test_the_training_file_uploaded_again_trains_the_same_task_types(
    client: ApiClient, stack: Stack, sdk: openai.OpenAI, default_job: dict
) -> None:
    lines = training_lines(client, default_job["id"])
    per_task = Counter(line["metadata"]["task_type"] for line in lines)
    assert per_task == Counter(default_job["result"]["training_data"]["task_distribution"])
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    upload = upload_checked(sdk, "again.jsonl", content)
    job = sdk.fine_tuning.jobs.create(
        model=BASELINE_MODEL_ID, training_file=upload.id, hyperparameters={"n_epochs": 2}
    )
    again = wait_sdk_job(client, stack, sdk, job.id)
    first_types = model_task_types(client, default_job["model_id"])
    assert model_task_types(client, again["model_id"]) == first_types == sorted(TASKS)
    assert again["result"]["training_data"]["dropped"].get("no_task_type", 0) == 0


def unlabelled(lines: list[dict]) -> list[dict]:
    """The lines without their task type."""
    return [{k: v for k, v in line.items() if k != "metadata"} for line in lines]


def test_a_training_file_without_any_task_type_is_refused_with_a_400_saying_why(
    client: ApiClient, sdk: openai.OpenAI, default_job: dict
) -> None:
    lines = unlabelled(training_lines(client, default_job["id"]))
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    upload = upload_checked(sdk, "bare.jsonl", content)
    before = client.get("/v1/fine_tuning/jobs", params={"limit": 100}).json()["data"]
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.fine_tuning.jobs.create(model=BASELINE_MODEL_ID, training_file=upload.id)
    assert refused.value.status_code == 400
    error = refused.value.body
    assert error["param"] == "training_file" and error["type"] == "invalid_request_error"
    assert f"none of the {len(lines)} rows" in error["message"]
    assert "metadata.task_type" in error["message"] and "learns to route" in error["message"]
    after = client.get("/v1/fine_tuning/jobs", params={"limit": 100}).json()["data"]
    assert [j["id"] for j in after] == [j["id"] for j in before]  # nothing was stored


def test_rows_without_a_task_type_are_counted_in_the_events_and_the_report(
    client: ApiClient, stack: Stack, sdk: openai.OpenAI, default_job: dict
) -> None:
    lines = training_lines(client, default_job["id"])
    bare = 7
    mixed = unlabelled(lines[:bare]) + lines[bare:]
    content = "".join(json.dumps(line) + "\n" for line in mixed).encode()
    upload = upload_checked(sdk, "mixed.jsonl", content)
    job = sdk.fine_tuning.jobs.create(
        model=BASELINE_MODEL_ID, training_file=upload.id, hyperparameters={"n_epochs": 2}
    )
    ours = wait_sdk_job(client, stack, sdk, job.id)
    assert ours["result"]["training_data"]["dropped"]["no_task_type"] == bare
    retrieved = sdk.fine_tuning.jobs.retrieve(job.id).model_extra["tuneloop"]
    assert retrieved["report"]["training_data"]["dropped"]["no_task_type"] == bare

    def warned() -> list:
        events = sdk.fine_tuning.jobs.list_events(job.id, limit=100).data
        return [e for e in events if e.level == "warn" and "metadata.task_type" in e.message]

    [event] = wait_until(warned, 10, lambda: f"no warning event in job {job.id}")
    assert event.data == {"no_task_type": bare} and f"{bare} rows" in event.message


def validation_lines() -> list[dict]:
    """Four labelled lines of each of TASKS, none of them a training input."""
    return [
        {
            "messages": [
                {"role": "user", "content": f"{WORDS[task]} (validation {i})"},
                {"role": "assistant", "content": f"About {task}."},
            ],
            "metadata": {"task_type": task},
        }
        for task in TASKS
        for i in range(4)
    ]


def upload(sdk: openai.OpenAI, name: str, lines: list[dict]) -> str:
    """Upload lines as a chat-format file; return its id."""
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    return upload_checked(sdk, name, content).id


def test_validation_rows_without_a_task_type_are_not_evaluated_and_are_counted(
    client: ApiClient, stack: Stack, sdk: openai.OpenAI, default_job: dict
) -> None:
    training = upload(sdk, "train.jsonl", training_lines(client, default_job["id"]))
    bare = 5
    lines = validation_lines()
    validation = upload(sdk, "valid.jsonl", unlabelled(lines[:bare]) + lines[bare:])
    job = sdk.fine_tuning.jobs.create(
        model=BASELINE_MODEL_ID,
        training_file=training,
        validation_file=validation,
        hyperparameters={"n_epochs": 2},
    )
    ours = wait_sdk_job(client, stack, sdk, job.id)
    assert ours["result"]["baseline_metrics"]["n_cases"] == len(lines) - bare
    events = sdk.fine_tuning.jobs.list_events(job.id, limit=100).data
    [event] = [e for e in events if e.level == "warn" and "validation file" in e.message]
    assert event.data == {"validation_no_task_type": bare} and f"{bare} rows" in event.message
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.fine_tuning.jobs.create(
            model=BASELINE_MODEL_ID,
            training_file=training,
            validation_file=upload(sdk, "bare.jsonl", unlabelled(lines)),
        )
    assert refused.value.body["param"] == "validation_file"
    assert f"none of the {len(lines)} rows" in refused.value.body["message"]
