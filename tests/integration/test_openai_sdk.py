"""The OpenAI-compatible routes driven by the official openai SDK against the real stack.

Banking77 rows (four intents, the subset committed in tests/fixtures/banking77-4) are uploaded
as chat-format JSONL: the train split to train on, the test split as the validation file the
job evaluates on. Every response is also validated
strictly with the SDK's own pydantic models (model_validate on the raw JSON), so a missing
required field fails here even where the SDK itself would let it pass.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai.types import FileDeleted, FileObject
from openai.types.chat import ChatCompletion
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint
from tuneloop_devstack.stack import Stack

from tuneloop.contracts import BASELINE_MODEL_ID
from tuneloop.graph import FINE_TUNING
from tuneloop.store import keys

from .support import API_KEY, ApiClient, upload_checked

BANKING77 = Path(__file__).resolve().parents[1] / "fixtures" / "banking77-4"
INTENTS = ("card_arrival", "exchange_rate", "pin_blocked", "top_up_failed")
JOB_TIMEOUT = 180.0


def chat_lines(split: str, limit: int | None = None) -> bytes:
    """The split's rows of INTENTS as chat-format JSONL (task type in metadata, a rating)."""
    with (BANKING77 / split).open(newline="") as f:
        rows = list(csv.DictReader(f))[:limit]
    lines = [
        {
            "messages": [
                {"role": "system", "content": "You are a bank's support agent."},
                {"role": "user", "content": r["text"]},
                {"role": "assistant", "content": f"I can help: {r['category'].replace('_', ' ')}."},
            ],
            "rating": 0.9,
            "metadata": {"task_type": r["category"]},
        }
        for r in rows
    ]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


@pytest.fixture(scope="module")
def sdk(stack: Stack) -> Iterator[openai.OpenAI]:
    """The official client, pointed at the gateway, without retries (a failure shows at once)."""
    with openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=API_KEY, max_retries=0) as c:
        yield c


@pytest.fixture(scope="module")
def files(sdk: openai.OpenAI) -> dict[str, FileObject]:
    """The uploaded training and validation files."""
    return {
        "train": upload_checked(sdk, "train.jsonl", chat_lines("train.csv")),
        "valid": upload_checked(sdk, "valid.jsonl", chat_lines("test.csv", 120)),
    }


def wait_until_ended(sdk: openai.OpenAI, job_id: str) -> FineTuningJob:
    """Poll retrieve until the job ends."""
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        job = sdk.fine_tuning.jobs.retrieve(job_id)
        if job.status in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not end within {JOB_TIMEOUT}s")


@pytest.fixture(scope="module")
def finished(sdk: openai.OpenAI, files: dict[str, FileObject]) -> FineTuningJob:
    """A fine-tuning job created through the SDK, polled until it ended."""
    job = sdk.fine_tuning.jobs.create(
        model=BASELINE_MODEL_ID,
        training_file=files["train"].id,
        validation_file=files["valid"].id,
        suffix="sdk",
        seed=7,
        hyperparameters={"n_epochs": 6},
        metadata={"team": "support"},
    )
    assert job.status in ("queued", "running"), job
    return wait_until_ended(sdk, job.id)


def strict(client: ApiClient, path: str, model: type) -> object:
    """GET path and validate the raw JSON with the SDK's pydantic model (strictly)."""
    response = client.get(path)
    assert response.status_code == 200, response.text
    return model.model_validate(response.json())


def test_an_uploaded_file_is_a_valid_file_object_and_its_content_comes_back_unchanged(
    sdk: openai.OpenAI, client: ApiClient, files: dict[str, FileObject]
) -> None:
    train = files["train"]
    expected = chat_lines("train.csv")
    assert (train.object, train.purpose, train.status) == ("file", "fine-tune", "processed")
    assert train.bytes == len(expected)
    strict(client, f"/v1/files/{train.id}", FileObject)
    assert sdk.files.content(train.id).content == expected
    listed = [f.id for f in sdk.files.list(purpose="fine-tune")]
    assert {train.id, files["valid"].id} <= set(listed)
    assert listed.index(files["valid"].id) < listed.index(train.id)  # newest first


def test_a_job_created_through_the_sdk_trains_on_the_file_and_succeeds(
    finished: FineTuningJob, client: ApiClient, files: dict[str, FileObject]
) -> None:
    assert finished.status == "succeeded", finished.error
    raw = client.get(f"/v1/fine_tuning/jobs/{finished.id}").json()
    job = FineTuningJob.model_validate(raw)
    assert job.fine_tuned_model and job.fine_tuned_model.startswith("ft-sdk-")
    assert (job.training_file, job.validation_file) == (files["train"].id, files["valid"].id)
    assert job.model == BASELINE_MODEL_ID and job.seed == 7
    assert job.hyperparameters.n_epochs == 6 and job.metadata == {"team": "support"}
    assert job.finished_at is not None and job.finished_at >= job.created_at
    report = raw["tuneloop"]["report"]
    trained = report["training_data"]["task_distribution"]
    assert set(trained) == set(INTENTS)  # the file's rows, not the interaction store's
    assert report["fine_tuned_metrics"]["n_cases"] == 120  # the validation file, evaluated
    assert report["fine_tuned_metrics"]["task_accuracy"] > 0.8


def test_events_list_newest_first_with_one_metrics_event_per_epoch(
    sdk: openai.OpenAI, client: ApiClient, finished: FineTuningJob
) -> None:
    events = list(sdk.fine_tuning.jobs.list_events(finished.id, limit=5))
    assert len(events) > 10  # the SDK pages through them all
    # Stream ids order events strictly (created_at has whole seconds: one for the whole job).
    order = [tuple(int(part) for part in e.id.split("-")) for e in events]
    assert order == sorted(order, reverse=True) and len(set(order)) == len(order)
    assert [e.created_at for e in events] == sorted((e.created_at for e in events), reverse=True)
    metrics = [e for e in events if e.type == "metrics"]
    assert [e.data["epoch"] for e in metrics] == list(range(6, 0, -1))  # the last epoch first
    assert all(isinstance(e.data["train_loss"], float) for e in metrics)
    page = client.get(f"/v1/fine_tuning/jobs/{finished.id}/events?limit=100").json()
    for event in page["data"]:
        FineTuningJobEvent.model_validate(event)


def test_checkpoints_list_the_kept_one_with_its_epoch_losses(
    sdk: openai.OpenAI, client: ApiClient, finished: FineTuningJob
) -> None:
    [checkpoint] = list(sdk.fine_tuning.jobs.checkpoints.list(finished.id))
    FineTuningJobCheckpoint.model_validate(
        client.get(f"/v1/fine_tuning/jobs/{finished.id}/checkpoints").json()["data"][0]
    )
    assert checkpoint.fine_tuned_model_checkpoint == finished.fine_tuned_model
    epochs = {
        e.data["epoch"]: e.data
        for e in sdk.fine_tuning.jobs.list_events(finished.id)
        if e.type == "metrics"
    }
    best = epochs[int(checkpoint.id.rsplit("-", 1)[1])]
    assert checkpoint.metrics.train_loss == best["train_loss"]
    assert checkpoint.metrics.valid_loss == best["valid_loss"]
    assert checkpoint.step_number > 0


def test_cancelling_a_finished_job_is_a_conflict_in_openai_shape(
    sdk: openai.OpenAI, finished: FineTuningJob
) -> None:
    with pytest.raises(openai.ConflictError) as caught:
        sdk.fine_tuning.jobs.cancel(finished.id)
    assert caught.value.status_code == 409
    assert "already finished" in caught.value.message
    assert caught.value.body["type"] == "invalid_request_error"
    assert caught.value.code == "conflict"


def test_jobs_list_pages_newest_first(
    sdk: openai.OpenAI, stack: Stack, files: dict[str, FileObject], finished: FineTuningJob
) -> None:
    made = []  # two more jobs after `finished`, one after the other (how they end is no matter)
    for _ in range(2):
        job = sdk.fine_tuning.jobs.create(
            model=BASELINE_MODEL_ID,
            training_file=files["valid"].id,
            validation_file=files["valid"].id,
            hyperparameters={"n_epochs": 1},
        )
        made.append(wait_until_ended(sdk, job.id).id)
    pages = [sdk.fine_tuning.jobs.list(limit=1)]
    while pages[-1].has_more and len(pages) < 10_000:  # one job a page, to the end
        assert len(pages[-1].data) == 1, f"page {len(pages)} has more after it: {pages[-1]}"
        pages.append(sdk.fine_tuning.jobs.list(limit=1, after=pages[-1].data[0].id))
    assert [len(p.data) for p in pages] == [1] * len(pages)
    assert [p.has_more for p in pages] == [True] * (len(pages) - 1) + [False]
    ids = [p.data[0].id for p in pages]
    assert ids[:3] == [made[1], made[0], finished.id]  # newest first: the reverse of creation
    # All of them in the order of the store's job index (creation sequence), newest first.
    index = stack.store.redis.zrevrange(keys.JOBS, 0, -1)
    assert ids == [jid for jid in index if stack.store.jobs.get(jid)["kind"] == FINE_TUNING]


def test_a_file_used_by_an_active_job_cannot_be_deleted_until_the_job_ends(
    sdk: openai.OpenAI, files: dict[str, FileObject], finished: FineTuningJob
) -> None:
    upload = upload_checked(sdk, "again.jsonl", chat_lines("train.csv", 200))
    job = sdk.fine_tuning.jobs.create(
        model=BASELINE_MODEL_ID, training_file=upload.id, hyperparameters={"n_epochs": 200}
    )
    with pytest.raises(openai.ConflictError) as caught:
        sdk.files.delete(upload.id)
    assert job.id in caught.value.message
    cancelled = sdk.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    deleted = sdk.files.delete(upload.id)
    assert FileDeleted.model_validate(deleted.model_dump()) and deleted.deleted
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.files.retrieve(upload.id)
    assert upload.id in caught.value.message


def test_a_bad_file_ends_in_error_naming_its_lines_and_keeps_no_bytes(
    sdk: openai.OpenAI, client: ApiClient
) -> None:
    good = chat_lines("train.csv", 1).decode()
    body = good + "{not json\n" + json.dumps({"messages": [{"role": "user", "content": "x"}]})
    checked = upload_checked(sdk, "bad.jsonl", body.encode())
    assert checked.status == "error", checked
    details = checked.status_details or ""
    assert "2 bad line(s)" in details and "line 2: is not JSON" in details, details
    assert "line 3:" in details and "line 1:" not in details, details
    strict(client, f"/v1/files/{checked.id}", FileObject)
    with pytest.raises(openai.ConflictError) as caught:
        sdk.files.content(checked.id)
    assert checked.id in caught.value.message and "error" in caught.value.message


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"training_file": "file-" + "0" * 24}, "training_file"),
        ({"training_file": "nope"}, "training_file"),
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
        ({"method": {"type": "kto"}}, "method.type"),
    ],
)
def test_a_bad_job_request_names_the_param_in_openai_shape(
    sdk: openai.OpenAI, files: dict[str, FileObject], change: dict, param: str
) -> None:
    request = {"model": BASELINE_MODEL_ID, "training_file": files["train"].id, **change}
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        sdk.fine_tuning.jobs.create(**request)
    assert caught.value.body["param"] == param, caught.value.body
    assert caught.value.body["type"] == "invalid_request_error"
    assert param.split(".")[-1] in caught.value.message


@pytest.mark.parametrize(
    ("change", "param"),
    [({"model": "gpt-4o-mini"}, "model"), ({"method": {"type": "dpo"}}, "method")],
)
def test_an_unknown_model_or_dpo_of_the_stand_in_agent_is_a_400_naming_the_param(
    sdk: openai.OpenAI, files: dict[str, FileObject], change: dict, param: str
) -> None:
    request = {"model": BASELINE_MODEL_ID, "training_file": files["train"].id, **change}
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.fine_tuning.jobs.create(**request)
    assert caught.value.body["param"] == param, caught.value.body
    assert BASELINE_MODEL_ID in caught.value.message


def test_unknown_ids_are_404_in_openai_shape_and_our_routes_keep_problem_json(
    sdk: openai.OpenAI, client: ApiClient
) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.fine_tuning.jobs.retrieve("ftjob-missing")
    assert "ftjob-missing" in caught.value.message and caught.value.code == "not_found"
    ours = client.get("/v1/jobs/ftjob-missing")
    assert ours.status_code == 404
    assert ours.headers["Content-Type"].startswith("application/problem+json")


def test_a_key_that_is_wrong_gets_401_in_openai_shape(stack: Stack) -> None:
    wrong = openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key="wrong-key", max_retries=0)
    with wrong, pytest.raises(openai.AuthenticationError) as caught:
        wrong.fine_tuning.jobs.list()
    assert caught.value.body["type"] == "authentication_error"


def test_chat_completions_answer_with_the_fine_tuned_model_and_count_tokens(
    sdk: openai.OpenAI, client: ApiClient, finished: FineTuningJob
) -> None:
    messages = [
        {"role": "system", "content": "You are a bank's support agent."},
        {"role": "user", "content": "My card still has not arrived, where is it?"},
    ]
    answer = sdk.chat.completions.create(model=finished.fine_tuned_model, messages=messages)
    assert answer.object == "chat.completion" and answer.model == finished.fine_tuned_model
    [choice] = answer.choices
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert choice.message.content == "I can help: card arrival."
    # The rule: runs of word characters, and each other visible character.
    prompt = 9 + 11  # You|are|a|bank|'|s|support|agent|. and My|card|…|it|?
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (prompt, 7)
    assert answer.usage.total_tokens == prompt + 7
    raw = client.post(
        "/v1/chat/completions", json={"model": finished.fine_tuned_model, "messages": messages}
    )
    ChatCompletion.model_validate(raw.json())
    assert raw.json()["tuneloop"]["task_type"] == "card_arrival"
    baseline = sdk.chat.completions.create(model=BASELINE_MODEL_ID, messages=messages)
    assert baseline.choices[0].message.content != choice.message.content


def test_chat_completions_refuse_streaming_and_unknown_models_in_openai_shape(
    sdk: openai.OpenAI,
) -> None:
    messages = [{"role": "user", "content": "hello"}]
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model=BASELINE_MODEL_ID, messages=messages, stream=True)
    assert caught.value.body["param"] == "stream" and "not supported" in caught.value.message
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="ft-nothing", messages=messages)
    assert "ft-nothing" in caught.value.message


def test_models_list_and_retrieve_give_created(sdk: openai.OpenAI, finished: FineTuningJob) -> None:
    model = sdk.models.retrieve(finished.fine_tuned_model)
    assert model.created >= finished.created_at and model.owned_by
    assert finished.fine_tuned_model in {m.id for m in sdk.models.list()}
