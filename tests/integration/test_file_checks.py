"""An upload is checked off the request path: its status goes uploaded -> processed | error.

The gateway stores the bytes and answers `uploaded`; a worker checks the lines and settles
the file, which the openai SDK's files.wait_for_processing waits for. Job creation refuses a
file until it is processed, and then reads its summary, not its bytes. The first tests use
the session's stack; the last ones a private stack whose worker starts only when the test
says, to hold a file in `uploaded`, or to stop a check at a gate while the file is deleted.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tuneloop.contracts import BASELINE_MODEL_ID
from tuneloop.store import keys

from .support import (
    API_KEY,
    ApiClient,
    Stack,
    client_for,
    private_stack,
    upload_checked,
    wait_until,
    wait_worker_idle,
)

pytestmark = pytest.mark.integration


def chat_file(rows: int, task: str | None = "card") -> bytes:
    """rows chat-format lines, each with the task type when one is given."""
    lines = []
    for i in range(rows):
        line: dict = {
            "messages": [
                {"role": "user", "content": f"Where is my card, order {i}?"},
                {"role": "assistant", "content": "It is on its way."},
            ]
        }
        if task:
            line["metadata"] = {"task_type": task if i % 2 else f"{task}_late"}
        lines.append(json.dumps(line) + "\n")
    return "".join(lines).encode()


@pytest.fixture(scope="module")
def sdk(stack: Stack) -> Iterator[openai.OpenAI]:
    """The official client on the session's gateway, without retries."""
    with openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=API_KEY, max_retries=0) as c:
        yield c


def file_keys(stack: Stack, file_id: str) -> list[str]:
    """Every key of a file: its record, manifest, chunks and jobs set."""
    return sorted(stack.store.redis.scan_iter(match=f"{keys.file(file_id)}*", count=1000))


def test_an_upload_answers_uploaded_and_wait_for_processing_sees_it_processed_with_a_summary(
    sdk: openai.OpenAI, stack: Stack
) -> None:
    content = chat_file(40)
    created = sdk.files.create(file=("rows.jsonl", content), purpose="fine-tune")
    assert (created.status, created.status_details) == ("uploaded", None)
    assert created.bytes == len(content)
    done = sdk.files.wait_for_processing(created.id, poll_interval=0.05, max_wait_seconds=60)
    assert (done.id, done.status, done.status_details) == (created.id, "processed", None)
    summary = done.model_extra["tuneloop"]
    assert summary["rows"] == 40 and summary["unlabelled_rows"] == 0, summary
    assert summary["task_distribution"] == {"card": 20, "card_late": 20}, summary
    assert 0 < summary["stored_bytes"] < len(content)  # kept compressed
    assert sdk.files.content(created.id).content == content
    assert sdk.files.retrieve(created.id).status == "processed"


def test_a_job_over_a_file_in_error_is_refused_with_a_400_naming_the_file_and_its_status(
    sdk: openai.OpenAI, stack: Stack
) -> None:
    good = upload_checked(sdk, "good.jsonl", chat_file(20))
    bad = upload_checked(sdk, "bad.jsonl", chat_file(3) + b"{oops\n")
    assert bad.status == "error" and "line 4: is not JSON" in (bad.status_details or "")
    assert file_keys(stack, bad.id) == [keys.file(bad.id)]  # the record, no bytes
    before = stack.store.jobs.count()
    for field, files in (
        ("training_file", {"training_file": bad.id}),
        ("validation_file", {"training_file": good.id, "validation_file": bad.id}),
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.fine_tuning.jobs.create(model=BASELINE_MODEL_ID, **files)
        error = refused.value.body
        assert (error["param"], error["type"]) == (field, "invalid_request_error"), error
        assert f"file {bad.id} has status error" in error["message"], error
        assert "line 4: is not JSON" in error["message"], error
    assert stack.store.jobs.count() == before


def test_job_creation_reads_the_files_summary_not_its_bytes(
    sdk: openai.OpenAI, client: ApiClient, stack: Stack
) -> None:
    done = upload_checked(sdk, "rows.jsonl", chat_file(30))
    chunks = [k for k in file_keys(stack, done.id) if ":chunk:" in k]
    stack.store.raw.delete(*chunks)  # the bytes are gone: only the record and its summary stay
    job = sdk.fine_tuning.jobs.create(model=BASELINE_MODEL_ID, training_file=done.id)
    assert job.training_file == done.id and job.status in ("queued", "running", "failed")
    client.post(f"/v1/fine_tuning/jobs/{job.id}/cancel")  # it could not collect its rows


def all_chunks(stack: Stack) -> set[str]:
    """The chunk keys of every file in the store."""
    return set(stack.store.redis.scan_iter(match=keys.file_chunk("*", "*", "*"), count=1000))


def multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart body of (name, filename or None, value) parts, and its content type."""
    boundary = "tuneloop-checks-boundary"
    body = b""
    for name, filename, value in parts:
        named = f'; filename="{filename}"' if filename else ""
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"{named}\r\n\r\n'
        body += head.encode() + value + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_an_upload_refused_after_or_during_its_body_leaves_no_chunk_behind(
    client: ApiClient, stack: Stack
) -> None:
    before = all_chunks(stack)
    content = chat_file(20_000)  # several chunks' worth is streamed to Redis before the refusal
    body, kind = multipart([("file", "rows.jsonl", content), ("purpose", None, b"assistants")])
    refused = client.post("/v1/files", data=body, headers={"Content-Type": kind})
    assert refused.status_code == 422 and "purpose" in refused.text, refused.text[:300]
    many = [("file", "rows.jsonl", content)] + [("purpose", None, b"fine-tune")] * 1000
    body, kind = multipart(many)  # the file part first, then one part too many
    refused = client.post("/v1/files", data=body, headers={"Content-Type": kind})
    assert refused.status_code == 413 and "1000 parts" in refused.text, refused.text[:300]
    assert all_chunks(stack) == before


# --- a stack whose worker starts when the test says ---------------------------------------


@pytest.fixture(scope="module")
def workerless() -> Iterator[tuple[Stack, openai.OpenAI, ApiClient]]:
    """A private stack of redis and the gateway, no worker yet; the SDK and our client."""
    with private_stack("tuneloop-checks-") as stack:
        stack.start_redis(appendfsync=None)
        stack.start_gateway()
        base_url = f"{stack.base_url}/v1"
        with (
            openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0) as sdk,
            client_for(stack) as client,
        ):
            yield stack, sdk, client


def test_a_job_over_a_file_still_uploaded_is_refused_until_its_check_has_run(
    workerless: tuple[Stack, openai.OpenAI, ApiClient],
) -> None:
    stack, sdk, client = workerless
    created = sdk.files.create(file=("rows.jsonl", chat_file(30)), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.fine_tuning.jobs.create(model=BASELINE_MODEL_ID, training_file=created.id)
    error = refused.value.body
    assert error["param"] == "training_file", error
    assert f"file {created.id} is not processed yet (status uploaded)" in error["message"]
    assert "wait_for_processing" in error["message"], error
    assert sdk.files.retrieve(created.id).status == "uploaded"  # no worker has checked it
    stack.start_worker("checker")
    try:
        done = sdk.files.wait_for_processing(created.id, poll_interval=0.05, max_wait_seconds=60)
        assert done.status == "processed", done
        job = sdk.fine_tuning.jobs.create(model=BASELINE_MODEL_ID, training_file=created.id)
        assert job.training_file == created.id
        client.post(f"/v1/fine_tuning/jobs/{job.id}/cancel")
        wait_worker_idle(stack)
    finally:
        stack.remove("checker")


def test_a_file_deleted_while_its_check_runs_keeps_no_bytes_and_the_check_ends_quietly(
    workerless: tuple[Stack, openai.OpenAI, ApiClient], tmp_path: Path
) -> None:
    stack, sdk, _ = workerless
    gate = tmp_path / "settle-may-start"
    stack.start_worker("gated", f"check_file=gate:{gate}")
    try:
        created = sdk.files.create(file=("rows.jsonl", chat_file(500)), purpose="fine-tune")
        wait_until(  # the worker has read and checked the lines, and waits before settling
            lambda: f"file {created.id}: checked, 500 rows" in stack.log_text("gated"),
            60,
            lambda: f"the check of {created.id} to reach its gate\n{stack.logs()}",
            0.05,
        )
        assert sdk.files.delete(created.id).deleted
        gate.touch()
        wait_until(
            lambda: f"file {created.id}: deleted or settled" in stack.log_text("gated"),
            60,
            lambda: f"the check of {created.id} to end\n{stack.logs()}",
            0.05,
        )
        wait_worker_idle(stack)
        assert file_keys(stack, created.id) == []  # no chunk of the upload, none of the check
        log = stack.log_text("gated")
        assert "Traceback" not in log and "raised unexpected" not in log, log[-3000:]
        assert stack.proc("gated").alive()
    finally:
        gate.touch()
        stack.remove("gated")
