"""Language models end to end: LoRA SFT and DPO jobs, chat, cancel and kill -9, through the SDK.

A private stack: redis, the gateway, the stand-in worker and an llm worker consuming
tuneloop.llm and tuneloop.llm.interactive, with TUNELOOP_BASE_MODELS naming a tiny causal LM
built here (random weights, a tokenizer trained on the data): nothing is downloaded. The data
is Banking77's questions with one reply per intent (tuneloop_devstack.llm_data).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from tuneloop_devstack import llm_data
from tuneloop_devstack.stack import Stack

from tuneloop import contracts
from tuneloop.store import keys

from .support import API_KEY, ApiClient, client_for, full_stack, upload_checked, wait_for_job
from .support.polling import wait_until
from .support.stacks import TIMINGS

pytestmark = pytest.mark.integration
if not os.environ.get("CI"):  # CI installs the llm extra (make test): there a missing one fails
    pytest.importorskip("torch")
    pytest.importorskip("trl")

BASE = "tiny-chat"
PER_INTENT = 40  # 160 questions: about 32 held out, 13 for validation, the rest trained on
LLM_QUEUES = "tuneloop.llm,tuneloop.llm.interactive"
JOB_TIMEOUT = 420.0


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny causal LM with a chat template, its tokenizer trained on the job's texts."""
    from tuneloop.llm import tiny

    return tiny.build(tmp_path_factory.mktemp("tiny-chat"), llm_data.texts(PER_INTENT))


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The artifact store's directory."""
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def llm(model_dir: Path, artifacts: Path) -> Iterator[Stack]:
    """The stack with the llm worker."""
    env = {
        **TIMINGS,
        "TUNELOOP_BASE_MODELS": f"{BASE}={model_dir}",
        "TUNELOOP_ARTIFACTS": str(artifacts),
        "HF_HUB_OFFLINE": "1",
    }
    with full_stack("tuneloop-llm-", env) as stack:
        stack.start_worker("llm", queues=LLM_QUEUES, concurrency=2)
        stack.wait_worker("worker")
        yield stack


@pytest.fixture(scope="module")
def client(llm: Stack) -> Iterator[ApiClient]:
    """Our API's client."""
    with client_for(llm) as c:
        yield c


@pytest.fixture(scope="module")
def sdk(llm: Stack) -> Iterator[openai.OpenAI]:
    """The official client, without retries."""
    with openai.OpenAI(base_url=f"{llm.base_url}/v1", api_key=API_KEY, max_retries=0) as c:
        yield c


def upload(sdk: openai.OpenAI, lines: Iterator[str], name: str) -> str:
    """Upload JSONL lines as a fine-tune file; return its id."""
    content = "".join(line + "\n" for line in lines).encode()
    return upload_checked(sdk, name, content).id


def supervised(n_epochs: int, lr_multiplier: float = 1.0, batch_size: int = 4) -> dict:
    """OpenAI's method object for supervised fine-tuning."""
    hp = {"n_epochs": n_epochs, "learning_rate_multiplier": lr_multiplier, "batch_size": batch_size}
    return {"type": "supervised", "supervised": {"hyperparameters": hp}}


@pytest.fixture(scope="module")
def sft_job(sdk: openai.OpenAI, client: ApiClient, llm: Stack) -> dict:
    """A supervised job on the chat file, ended; our job record of it."""
    fid = upload(sdk, llm_data.chat_lines(PER_INTENT), "chat.jsonl")
    job = sdk.fine_tuning.jobs.create(
        model=BASE, training_file=fid, method=supervised(10, 100.0), suffix="desk"
    )
    return wait_for_job(client, llm, job.id, timeout=JOB_TIMEOUT)


def test_a_supervised_job_succeeds_with_per_step_metrics_and_checkpoints(
    sdk: openai.OpenAI, sft_job: dict
) -> None:
    job = sdk.fine_tuning.jobs.retrieve(sft_job["id"])
    assert job.status == "succeeded" and job.fine_tuned_model, job
    assert job.model == BASE
    events = list(sdk.fine_tuning.jobs.list_events(job.id, limit=100))  # every page
    steps = [e.data["step"] for e in events if e.type == "metrics" and "epoch" not in e.data]
    assert len(steps) >= 6 and sorted(steps) == sorted(set(steps)), steps
    checkpoints = sdk.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.metrics.step for c in checkpoints] == sorted(
        (c.metrics.step for c in checkpoints), reverse=True
    )
    assert len(checkpoints) == 10
    assert all(c.metrics.train_loss is not None and c.metrics.valid_loss for c in checkpoints)
    assert checkpoints[0].fine_tuned_model_checkpoint == job.fine_tuned_model


def test_the_supervised_adapter_lowers_held_out_nll_with_an_interval_that_excludes_zero(
    sft_job: dict,
) -> None:
    result = sft_job["result"]
    base, tuned = result["baseline_metrics"], result["fine_tuned_metrics"]
    assert base["n_cases"] >= 20 and base["n_cases"] == tuned["n_cases"]
    assert tuned["mean_token_nll"] < base["mean_token_nll"], (base, tuned)
    low, high = result["improvement"]["nll_reduction"]["absolute_ci95"]
    assert 0 < low <= high, result["improvement"]
    assert tuned["response_chrf"] > base["response_chrf"]


def test_greedy_chat_reproduces_a_trained_answer_for_a_trained_prompt(
    sdk: openai.OpenAI, client: ApiClient, sft_job: dict
) -> None:
    trained = client.get(f"/v1/jobs/{sft_job['id']}/training_file")
    assert trained.status_code == 200, trained.text[:300]
    messages = json.loads(trained.text.splitlines()[0])["messages"]
    assert messages[-1]["role"] == "assistant"
    answer = sdk.chat.completions.create(
        model=sft_job["model_id"],
        messages=messages[:-1],
        temperature=0,
        max_tokens=60,
    )
    assert answer.choices[0].message.content.strip() == messages[-1]["content"]
    assert answer.usage.completion_tokens > 0 and answer.usage.prompt_tokens > 10


def test_streamed_chat_gives_the_plain_answer_in_chunks(sdk: openai.OpenAI, sft_job: dict) -> None:
    question, _ = llm_data.questions(PER_INTENT)[5]
    ask = {"model": sft_job["model_id"], "messages": llm_data.prompt(question), "max_tokens": 40}
    plain = sdk.chat.completions.create(**ask, temperature=0).choices[0].message.content
    chunks = list(sdk.chat.completions.create(**ask, temperature=0, stream=True))
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert len([p for p in pieces if p]) >= 2, pieces
    assert "".join(pieces) == plain
    assert chunks[-1].choices == [] or chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_a_dpo_job_from_a_preference_file_raises_held_out_preference_accuracy(
    sdk: openai.OpenAI, client: ApiClient, llm: Stack
) -> None:
    fid = upload(sdk, llm_data.preference_lines(PER_INTENT), "prefs.jsonl")
    hp = {"n_epochs": 4, "beta": 0.1, "learning_rate_multiplier": 100.0, "batch_size": 8}
    method = {"type": "dpo", "dpo": {"hyperparameters": hp}}
    job = sdk.fine_tuning.jobs.create(model=BASE, training_file=fid, method=method)
    ended = wait_for_job(client, llm, job.id, timeout=JOB_TIMEOUT)
    base, tuned = ended["result"]["baseline_metrics"], ended["result"]["fine_tuned_metrics"]
    assert base["n_pairs"] >= 20 and tuned["n_pairs"] == base["n_pairs"]
    assert tuned["preference_accuracy"] > base["preference_accuracy"] + 0.2, (base, tuned)
    assert sdk.fine_tuning.jobs.retrieve(job.id).method.type == "dpo"


def _steps(client: ApiClient, job_id: str) -> list[dict]:
    """Return the job's metrics events."""
    events = client.get(f"/v1/jobs/{job_id}/events", params={"limit": 1000}).json()["data"]
    return [e for e in events if e["type"] == "metrics"]


def test_cancel_mid_training_stops_at_the_next_step_and_publishes_nothing(
    sdk: openai.OpenAI, client: ApiClient, llm: Stack
) -> None:
    fid = upload(sdk, llm_data.chat_lines(PER_INTENT), "chat.jsonl")
    # One row a step: an epoch is as many steps as training rows (about 100), so a runner that
    # stopped only at the epoch's end would log steps far past the one the cancel came after.
    method = supervised(3, batch_size=1)
    job = sdk.fine_tuning.jobs.create(model=BASE, training_file=fid, method=method)
    wait_until(lambda: _steps(client, job.id), 240, lambda: "a first training step")
    sdk.fine_tuning.jobs.cancel(job.id)
    ended = wait_for_job(client, llm, job.id, expect=contracts.CANCELLED, timeout=60)
    wait_until(lambda: _idle(llm), 60, lambda: "the llm worker to be idle")
    rows = client.get(f"/v1/jobs/{job.id}/training_file").text.splitlines()
    assert len(rows) > 80, len(rows)  # the steps of one epoch
    events = _steps(client, job.id)
    assert [e for e in events if "epoch" in e["data"]] == []
    assert max(e["data"]["step"] for e in events) <= 40, [e["data"] for e in events]
    published = [m for m in client.get("/v1/models").json()["data"] if m.get("job_id") == job.id]
    assert published == [] and not ended.get("fine_tuned_model"), published


def _idle(stack: Stack) -> bool:
    """Return whether no llm task is running (the worker's inspect says so)."""
    from celery import Celery

    app = Celery(broker=stack.redis_url)
    try:
        active = app.control.inspect(timeout=1.0, destination=[f"llm@{_host()}"]).active() or {}
    finally:
        app.close()
    return bool(active) and all(not tasks for tasks in active.values())


def _host() -> str:
    """Return this host's name as Celery spells it in worker names."""
    import socket

    return socket.gethostname()


def test_kill_9_mid_training_resumes_from_the_last_checkpoint_and_publishes_once(
    sdk: openai.OpenAI, client: ApiClient, llm: Stack
) -> None:
    fid = upload(sdk, llm_data.chat_lines(PER_INTENT), "chat.jsonl")
    job = sdk.fine_tuning.jobs.create(model=BASE, training_file=fid, method=supervised(5))

    def epochs() -> list[int]:
        return sorted({e["data"]["epoch"] for e in _steps(client, job.id) if "epoch" in e["data"]})

    wait_until(lambda: epochs() and epochs()[-1] >= 2, 240, lambda: "two epochs to be checkpointed")
    llm.kill("llm")  # kill -9 of the worker's process group, its pool children with it
    llm.remove("llm")
    llm.start_worker("llm", queues=LLM_QUEUES, concurrency=2)
    ended = wait_for_job(client, llm, job.id, timeout=JOB_TIMEOUT)
    events = client.get(f"/v1/jobs/{job.id}/events", params={"limit": 1000}).json()["data"]
    resumed = [e for e in events if e["type"] == "message" and "resuming" in e["message"]]
    assert resumed and resumed[0]["data"]["epoch"] >= 2, [e["message"] for e in events]
    assert epochs() == [1, 2, 3, 4, 5]
    published = [m for m in client.get("/v1/models").json()["data"] if m.get("job_id") == job.id]
    assert len(published) == 1 and published[0]["id"] == ended["model_id"]


def test_deleting_a_language_model_deletes_its_adapter_files(
    sdk: openai.OpenAI, client: ApiClient, llm: Stack, artifacts: Path
) -> None:
    fid = upload(sdk, llm_data.chat_lines(PER_INTENT), "chat.jsonl")
    job = sdk.fine_tuning.jobs.create(model=BASE, training_file=fid, method=supervised(1))
    ended = wait_for_job(client, llm, job.id, timeout=JOB_TIMEOUT)
    adapter = artifacts / "models" / ended["model_id"] / "adapter"
    assert any(adapter.rglob("*.safetensors")), sorted(artifacts.rglob("*"))[:20]
    assert sdk.models.delete(ended["model_id"]).deleted is True
    wait_until(lambda: not adapter.exists(), 60, lambda: f"{adapter} to be deleted")
    assert client.get(f"/v1/models/{ended['model_id']}").status_code == 404
    assert client.delete(f"/v1/models/{BASE}").status_code == 400


def test_a_pause_mid_epoch_stops_after_that_step_with_a_checkpoint_and_resumes_from_it(
    sdk: openai.OpenAI, client: ApiClient, llm: Stack
) -> None:
    fid = upload(sdk, llm_data.chat_lines(PER_INTENT), "chat.jsonl")
    method = supervised(2, batch_size=1)  # one row a step: about 100 steps an epoch
    job = sdk.fine_tuning.jobs.create(model=BASE, training_file=fid, method=method)
    wait_until(lambda: _steps(client, job.id), 240, lambda: "a first training step")
    assert sdk.fine_tuning.jobs.pause(job.id).status == contracts.PAUSING
    wait_until(
        lambda: sdk.fine_tuning.jobs.retrieve(job.id).status == contracts.PAUSED,
        60,
        lambda: f"the job to be paused: {sdk.fine_tuning.jobs.retrieve(job.id)}",
    )
    pointer = llm.store.artifacts.get(job.id, "llm_checkpoint")
    assert pointer["epoch"] == 0 and 0 < pointer["step"] <= 40, pointer  # inside epoch 1
    assert pointer["key"].endswith(f"checkpoints/step-{pointer['step']}"), pointer
    assert not [e for e in _steps(client, job.id) if "epoch" in e["data"]]
    assert not llm.store.redis.exists(keys.lease(job.id, "fine_tune"))
    assert sdk.fine_tuning.jobs.resume(job.id).status in (contracts.QUEUED, contracts.RUNNING)
    ended = wait_for_job(client, llm, job.id, timeout=JOB_TIMEOUT)
    events = client.get(f"/v1/jobs/{job.id}/events", params={"limit": 1000}).json()["data"]
    resumed = [e["message"] for e in events if e["message"].startswith("resuming")]
    assert resumed == [f"resuming fine-tuning at step {pointer['step']} from its checkpoint"]
    steps = [e["data"]["step"] for e in _steps(client, job.id) if "epoch" not in e["data"]]
    assert max(steps) > pointer["step"] and sorted(steps) == sorted(set(steps)), steps
    assert sorted(e["data"]["epoch"] for e in _steps(client, job.id) if "epoch" in e["data"]) == [
        1,
        2,
    ]
    published = [m for m in client.get("/v1/models").json()["data"] if m.get("job_id") == job.id]
    assert len(published) == 1 and published[0]["id"] == ended["model_id"]
