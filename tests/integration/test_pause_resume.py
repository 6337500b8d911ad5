"""Pause and resume through HTTP, the openai SDK, the CLI and the pages, on a real stack.

One stack for the module (support/pausing.py): its worker stops at gates, so a job is held
at a known point (queued, or its runner between two epochs) and paused there. A long job
paused at an epoch stops after that epoch with a checkpoint, holds no lease and no message,
is seen frozen for 5 s (the issue's window), and once resumed goes on from its checkpoint
(the epochs before the pause are not trained again) to success.
"""

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import openai
import pytest

from tuneloop import contracts
from tuneloop.store import keys
from tuneloop.trainers import softmax as training

from .support import (
    API_KEY,
    ApiClient,
    Stack,
    all_events,
    assert_problem,
    client_for,
    create_job,
    deliveries,
    describe_job,
    epochs_in,
    events_of,
    lease_holder,
    report_recovery,
    seed_interactions,
    stages_started,
    training_items,
    wait_for_job,
    wait_job_status,
    wait_until,
)
from .support.pages import csrf_of, login
from .support.pausing import (
    FROZEN_FOR,
    READ_EVERY,
    Gates,
    assert_frozen,
    gated_stack,
    held_after_first_epoch,
    messages_naming,
    pause,
    paused_after_second_epoch,
    resume,
    send_canvas,
    wait_holds_nothing,
)

pytestmark = pytest.mark.integration

N_EPOCHS = 20
TUNELOOP = Path(sys.executable).with_name("tuneloop")  # the installed console script


@pytest.fixture(scope="module")
def gates(tmp_path_factory: pytest.TempPathFactory) -> Gates:
    """The worker's gate files, open."""
    root = tmp_path_factory.mktemp("gates")
    return Gates(root / "collect", root / "epoch", root / "evaluate")


@pytest.fixture(scope="module")
def stack(gates: Gates) -> Iterator[Stack]:
    """The module's gated stack, with training data."""
    with gated_stack(gates) as running, client_for(running) as client:
        seed_interactions(client)
        yield running


@pytest.fixture
def api(stack: Stack, gates: Gates) -> Iterator[ApiClient]:
    """A client of the module's stack; every gate is open again after the test."""
    with client_for(stack) as session:
        yield session
    gates.open_all()


@pytest.fixture(scope="module")
def finished(stack: Stack) -> dict:
    """A job that succeeded, with its model."""
    with client_for(stack) as client:
        return wait_for_job(client, stack, create_job(client, 2))


def types_of(events: list[dict]) -> list[str]:
    """The job's event types, in order, without the per-epoch metrics."""
    return [e["type"] for e in events if e["type"] != "metrics"]


def test_a_long_job_pauses_at_its_next_epoch_holds_nothing_stays_frozen_and_resumes_to_success(
    api: ApiClient, stack: Stack, gates: Gates
) -> None:
    job_id = held_after_first_epoch(api, stack, gates, N_EPOCHS)
    running = api.get(f"/v1/jobs/{job_id}")
    assert running.json()["status"] == contracts.RUNNING, running.text
    asked = pause(api, job_id)
    assert asked["status"] == contracts.PAUSING, asked
    # The hot lane's read shows it at once: the ETag of the running job's answer is stale.
    read = api.get(f"/v1/jobs/{job_id}", headers={"If-None-Match": running.headers["ETag"]})
    assert read.status_code == 200 and read.json()["status"] == contracts.PAUSING, read.text
    assert read.headers["ETag"] != running.headers["ETag"]
    gates.epoch.touch()  # epoch 2 trains; its record sees the pause: checkpoint, stop
    opened = time.monotonic()
    paused = wait_job_status(api, stack, job_id, {contracts.PAUSED}, 30.0)
    report_recovery("pause: gate opened -> paused", time.monotonic() - opened, "one epoch")
    assert paused["stage"] == "fine_tune" and paused["finished_at"] is None, paused
    wait_holds_nothing(stack, job_id)
    assert epochs_in(events_of(stack, job_id)) == [1, 2]
    assert stack.store.artifacts.get(job_id, training.POINTER)["epoch"] == 2  # its checkpoint
    assert stack.store.redis.ttl(keys.artifact(job_id, training.POINTER)) == -1  # kept paused
    assert "stopped at a pause, its checkpoint written" in stack.log_text("w1")
    assert assert_frozen(api, stack, job_id) >= FROZEN_FOR / (2 * READ_EVERY)

    resumed, asked_at = resume(api, job_id), time.monotonic()
    assert resumed["status"] in (contracts.QUEUED, contracts.RUNNING), resumed
    assert stack.store.redis.ttl(keys.artifact(job_id, training.POINTER)) > 0
    done = wait_for_job(api, stack, job_id, timeout=60.0)
    report_recovery("resume -> succeeded", time.monotonic() - asked_at, f"{N_EPOCHS - 2} epochs")
    assert done["progress"]["current"] == done["progress"]["total"], done
    events = all_events(api, job_id)
    assert epochs_in(events) == list(range(1, N_EPOCHS + 1))  # each epoch recorded once
    resumes = [e["message"] for e in events if e["message"].startswith("resuming fine-tuning")]
    assert resumes == ["resuming fine-tuning after epoch 2"], resumes  # 1 and 2 not run again
    kinds = types_of(events)
    assert kinds.index("job.pausing") < kinds.index("job.paused") < kinds.index("job.resumed")
    assert kinds.count("job.paused") == 1 and kinds[-1] == "job.succeeded", kinds
    assert "stage.redriven" not in kinds, kinds  # its resume sent its stages, not the sweeper
    paused_event = next(e for e in events if e["type"] == "job.paused")
    assert paused_event["message"] == "job paused: stopped at fine_tune", paused_event
    # The stopped run ended: two starts of fine_tune, both ended, so no crash was counted.
    counts = stack.store.redis.hgetall(keys.job_deliveries(job_id))
    assert counts["fine_tune:started"] == counts["fine_tune:ended"] == "2", counts


def sdk_for(stack: Stack) -> openai.OpenAI:
    """The official client, pointed at the gateway, without retries."""
    return openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=API_KEY, max_retries=0)


def test_a_message_of_a_paused_job_takes_no_lease_counts_no_start_and_starts_nothing(
    api: ApiClient, stack: Stack, gates: Gates
) -> None:
    job_id = paused_after_second_epoch(api, stack, gates, N_EPOCHS)
    before, events = deliveries(stack, job_id), events_of(stack, job_id)
    send_canvas(stack, job_id)  # as a duplicated or stale message would come
    wait_holds_nothing(stack, job_id)  # taken, passed over, acknowledged
    assert deliveries(stack, job_id) == before and events_of(stack, job_id) == events
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == contracts.PAUSED
    assert api.post(f"/v1/jobs/{job_id}/cancel").status_code == 200


def wait_sdk_status(sdk: openai.OpenAI, stack: Stack, job_id: str, status: str) -> object:
    """Poll the SDK's retrieve until the job has status."""
    return wait_until(
        lambda: (job := sdk.fine_tuning.jobs.retrieve(job_id)).status == status and job,
        60.0,
        lambda: f"job {job_id} to be {status}: {describe_job(stack, job_id)}",
        interval=0.1,
    )


def chat_file(items: list[dict]) -> bytes:
    """The training items as a chat-format JSONL file with their task types and ratings."""
    lines = [
        {
            "messages": [
                {"role": "user", "content": item["input"]},
                {"role": "assistant", "content": item["output"]},
            ],
            "rating": item["rating"],
            "metadata": {"task_type": item["task_type"]},
        }
        for item in items
    ]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def test_the_sdk_pauses_and_resumes_a_job_it_created_and_it_succeeds(
    stack: Stack, gates: Gates
) -> None:
    with sdk_for(stack) as sdk:
        uploaded = sdk.files.create(
            file=("train.jsonl", io.BytesIO(chat_file(training_items()))), purpose="fine-tune"
        )
        sdk.files.wait_for_processing(uploaded.id, poll_interval=0.05, max_wait_seconds=60)
        gates.epoch.unlink()
        created = sdk.fine_tuning.jobs.create(
            model=contracts.BASELINE_MODEL_ID,
            training_file=uploaded.id,
            hyperparameters={"n_epochs": N_EPOCHS},
        )
        wait_until(
            lambda: epochs_in(events_of(stack, created.id)),
            60.0,
            lambda: f"an epoch of {created.id}: {describe_job(stack, created.id)}",
        )
        pausing = sdk.fine_tuning.jobs.pause(created.id)
        assert (pausing.id, pausing.status) == (created.id, contracts.PAUSING), pausing
        gates.epoch.touch()
        paused = wait_sdk_status(sdk, stack, created.id, contracts.PAUSED)
        progress = paused.model_extra["tuneloop"]["progress"]
        wait_holds_nothing(stack, created.id)
        deadline = time.monotonic() + FROZEN_FOR
        while time.monotonic() < deadline:  # the window: nothing moves in it
            again = sdk.fine_tuning.jobs.retrieve(created.id)
            assert again.status == contracts.PAUSED and again.finished_at is None, again
            assert again.model_extra["tuneloop"]["progress"] == progress, again
            time.sleep(READ_EVERY)
        messages = [e.message for e in sdk.fine_tuning.jobs.list_events(created.id, limit=100)]
        assert "job paused: stopped at fine_tune" in messages, messages
        resumed = sdk.fine_tuning.jobs.resume(created.id)
        assert resumed.status in (contracts.QUEUED, contracts.RUNNING), resumed
        done = wait_sdk_status(sdk, stack, created.id, contracts.SUCCEEDED)
        assert done.fine_tuned_model, done
        events = events_of(stack, created.id)
        resumes = [e["message"] for e in events if e["message"].startswith("resuming")]
        assert resumes == ["resuming fine-tuning after epoch 2"], resumes
        assert epochs_in(events) == sorted(set(epochs_in(events))), events  # none twice


def test_a_queued_job_pauses_at_once_no_stage_of_it_starts_and_the_cli_resumes_it(
    api: ApiClient, stack: Stack, gates: Gates
) -> None:
    gates.collect.unlink()
    job_id = create_job(api, 2)
    wait_until(  # collect took its lease and waits at its gate: the job is still queued
        lambda: lease_holder(stack, job_id, "collect"),
        30.0,
        lambda: f"collect to take its lease: {describe_job(stack, job_id)}",
        interval=0.02,
    )
    paused = tuneloop(stack, "jobs", "pause", job_id)
    assert paused.strip() == f"job {job_id} is paused", paused
    gates.collect.touch()  # collect goes on: its start is refused, it stops, it acks
    wait_holds_nothing(stack, job_id)
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == contracts.PAUSED and job["started_at"] is None, job
    events = all_events(api, job_id)
    assert stages_started(events) == [] and types_of(events) == ["job.paused"], events
    assert deliveries(stack, job_id) == {"collect": 1}
    assert f"job {job_id} was paused before collect started" in stack.log_text("w1")

    resumed = tuneloop(stack, "jobs", "resume", job_id)
    assert resumed.strip() in (f"job {job_id} is queued", f"job {job_id} is running"), resumed
    wait_for_job(api, stack, job_id, timeout=60.0)
    assert types_of(all_events(api, job_id))[:3] == ["job.paused", "job.resumed", "stage.started"]


def tuneloop(stack: Stack, *args: str) -> str:
    """Run the console script against the stack; assert it exits 0; return its output."""
    drop = ("TUNELOOP_", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env |= {"TUNELOOP_URL": stack.base_url, "TUNELOOP_API_KEY": API_KEY}
    done = subprocess.run(
        [str(TUNELOOP), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_resuming_a_pausing_job_withdraws_the_pause_and_it_goes_on_running(
    api: ApiClient, stack: Stack, gates: Gates
) -> None:
    job_id = held_after_first_epoch(api, stack, gates, 4)
    assert pause(api, job_id)["status"] == contracts.PAUSING
    assert resume(api, job_id)["status"] == contracts.RUNNING
    gates.epoch.touch()
    wait_for_job(api, stack, job_id, timeout=60.0)
    events = all_events(api, job_id)
    assert "job.paused" not in types_of(events), events
    withdrawn = [e["message"] for e in events if e["type"] == "job.resumed"]
    assert withdrawn == ["job resumed before its pause took effect: it goes on running"]
    assert deliveries(stack, job_id)["fine_tune"] == 1  # it never stopped
    assert epochs_in(events) == [1, 2, 3, 4]


def test_cancelling_a_paused_job_ends_it_cancelled_and_frees_what_it_kept(
    api: ApiClient, stack: Stack, gates: Gates
) -> None:
    job_id = paused_after_second_epoch(api, stack, gates, N_EPOCHS)
    cancelled = api.post(f"/v1/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == contracts.CANCELLED, cancelled.text
    kept = stack.store.redis.smembers(keys.job_artifacts(job_id))
    assert kept <= {"kept", "held_out"}, kept  # its checkpoint and the rest are freed
    assert not stack.store.redis.exists(keys.artifact(job_id, training.POINTER))
    for action in ("resume", "pause"):
        problem = assert_problem(api.post(f"/v1/jobs/{job_id}/{action}"), 409)
        assert "it is cancelled" in problem["detail"], problem
    assert types_of(all_events(api, job_id))[-1] == "job.cancelled"
    assert not messages_naming(stack, job_id)


def test_cancelling_a_pausing_job_ends_it_cancelled_and_its_runner_stops_without_pausing(
    api: ApiClient, stack: Stack, gates: Gates
) -> None:
    job_id = held_after_first_epoch(api, stack, gates, N_EPOCHS)
    assert pause(api, job_id)["status"] == contracts.PAUSING
    cancelled = api.post(f"/v1/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == contracts.CANCELLED
    gates.epoch.touch()  # epoch 2's record finds the job ended: the runner stops, tidies
    wait_holds_nothing(stack, job_id)
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == contracts.CANCELLED
    events = all_events(api, job_id)
    kinds = types_of(events)
    assert "job.paused" not in kinds and "job.cancelled" in kinds, kinds
    # After the cancel only the other branch (evaluate_baseline) may still say it finished.
    at = next(i for i, e in enumerate(events) if e["type"] == "job.cancelled")
    later = events[at + 1 :]
    assert all(
        e["type"] == "stage.finished" and e["data"]["stage"] != "fine_tune" for e in later
    ), [(e["type"], e["message"]) for e in later]
    assert epochs_in(events) == [1]


def test_pausing_or_resuming_an_ended_job_answers_409_naming_its_status(
    api: ApiClient, stack: Stack, finished: dict
) -> None:
    job_id = finished["id"]
    for action in ("pause", "resume"):
        problem = assert_problem(api.post(f"/v1/jobs/{job_id}/{action}"), 409)
        assert f"job {job_id} has already finished: it is succeeded" in problem["detail"]
        compat = api.post(f"/v1/fine_tuning/jobs/{job_id}/{action}")
        assert compat.status_code == 409, compat.text
        error = compat.json()["error"]
        assert (error["type"], error["code"]) == ("invalid_request_error", "conflict"), error
        assert "it is succeeded" in error["message"], error
    with sdk_for(stack) as sdk, pytest.raises(openai.ConflictError, match="it is succeeded"):
        sdk.fine_tuning.jobs.pause(job_id)
    assert api.get(f"/v1/jobs/{job_id}").json() == finished
    assert_problem(api.post("/v1/jobs/ftjob-000000000000000000000000/pause"), 404)


def test_an_evaluation_job_pauses_at_its_next_stage_and_resumes_to_success(
    api: ApiClient, stack: Stack, gates: Gates, finished: dict
) -> None:
    gates.evaluate.unlink()  # evaluate_model_a waits at its gate: the job runs meanwhile
    cases = [
        {"input": f"Quick query: {item['input']}", "expected_type": item["task_type"]}
        for item in training_items(3)
    ]
    models = {"model_a": contracts.BASELINE_MODEL_ID, "model_b": finished["model_id"]}
    created = api.post("/v1/evaluations", json={**models, "eval_set": cases})
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    wait_until(
        lambda: lease_holder(stack, job_id, "evaluate_model_a"),
        30.0,
        lambda: f"evaluate_model_a to take its lease: {describe_job(stack, job_id)}",
        interval=0.02,
    )
    assert pause(api, job_id)["status"] == contracts.PAUSING
    compat = api.post(f"/v1/fine_tuning/jobs/{job_id}/pause")  # not a fine-tuning job
    assert compat.status_code == 404, compat.text
    gates.evaluate.touch()  # its start is refused: the stage boundary
    wait_job_status(api, stack, job_id, {contracts.PAUSED}, 30.0)
    wait_holds_nothing(stack, job_id)
    assert "evaluate_model_a" not in stages_started(all_events(api, job_id))
    resume(api, job_id)
    done = wait_for_job(api, stack, job_id, timeout=60.0)
    assert done["kind"] == "evaluation" and done["result"], done


def test_the_job_page_pauses_and_resumes_a_job_beside_cancel_with_its_csrf_token(
    api: ApiClient, stack: Stack, gates: Gates
) -> None:
    job_id = held_after_first_epoch(api, stack, gates, 4)
    page = f"{stack.base_url}/ui/jobs/{job_id}"
    with ApiClient(stack.base_url) as browser:
        assert login(browser, stack.base_url).status_code == 303
        html = browser.get(page, timeout=30).text
        assert 'id="pause"' in html and 'id="cancel"' in html and 'id="resume"' not in html
        token = csrf_of(html)
        refused = browser.post(f"{page}/pause", data={"csrf_token": "x"}, timeout=30)
        assert refused.status_code == 403, refused.text[:300]
        assert api.get(f"/v1/jobs/{job_id}").json()["status"] == contracts.RUNNING
        asked = browser.post(f"{page}/pause", data={"csrf_token": token}, allow_redirects=False)
        assert asked.status_code == 303 and asked.headers["Location"].endswith("notice=pausing")
        html = browser.get(urljoin(page, asked.headers["Location"]), timeout=30).text
        assert "pauses at its next stage, epoch or step boundary" in html
        assert 'id="resume"' in html and 'id="cancel"' in html and 'id="pause"' not in html
        back = browser.post(f"{page}/resume", data={"csrf_token": token}, allow_redirects=False)
        assert back.status_code == 303 and back.headers["Location"].endswith("notice=resumed")
        assert 'id="pause"' in browser.get(page, timeout=30).text
    gates.epoch.touch()
    wait_for_job(api, stack, job_id, timeout=60.0)
