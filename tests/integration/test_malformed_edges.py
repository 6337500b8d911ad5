"""Input that used to cause a 500 gets a 4xx naming the problem, and stores nothing.

Each case goes to the session's real gunicorn gateway (the hot lane and gunicorn's own body
reader are part of what is tested), on its real redis-server and worker. Every case checks
the answer's status, its shape (a problem document; OpenAI's error object on /v1/files), a
message naming the problem, and that the counts of what is stored or sent did not move:
interactions, jobs, files, and the messages pushed onto the Celery queues. (An uploaded
file's lines are checked by a worker: a bad line gives the file status error, naming it.)
"""

import io
import json
import socket
from collections.abc import Callable, Iterator

import pytest

from tuneloop.contracts import BASELINE_MODEL_ID
from tuneloop.store import keys

from .support import (
    API_KEY,
    ApiClient,
    SentMessages,
    Stack,
    assert_problem,
    reset_store,
    wait_file_checked,
    wait_for_job,
)
from .support.raw_http import read_response

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}
HUGE = "1" + "0" * 399  # a 400-digit integer: too large for any float
ITEM = '{"input": "Where is my card?", "output": "On its way.", "rating": %s, "task_type": "t"}'
TOO_LARGE = "Number too large."


def chat_line(question: str = "Where is my card?", task: str = "card_arrival") -> str:
    """One valid chat-format line of a training file."""
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": "Soon."}]
    return json.dumps({"messages": messages, "metadata": {"task_type": task}})


Counts = Callable[[], dict[str, int]]


@pytest.fixture(scope="module", autouse=True)
def store_wiped_afterwards(stack: Stack) -> Iterator[None]:
    """Wipe the records this module made once it is done."""
    yield
    reset_store(stack)


@pytest.fixture
def stored(client: ApiClient, stack: Stack, sent: SentMessages) -> Counts:
    """Read what a refused request must leave as it was."""

    def read() -> dict[str, int]:
        stats = client.get("/v1/interactions/stats")
        assert stats.status_code == 200, stats.text[:300]
        return {
            "interactions": stats.json()["count"],
            "jobs": stack.store.jobs.count(),
            "files": stack.store.redis.zcard(keys.FILES),
            "messages_sent": sent.sent_from_outside(),
        }

    return read


def assert_openai_error(response, status: int, *words: str, param: str | None = None) -> str:
    """Assert OpenAI's error object of status whose message holds words; return the message."""
    assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error", error
    for word in words:
        assert word in error["message"], error
    if param is not None:
        assert error["param"] == param, error
    return error["message"]


# --- a rating of 400 digits: 422 on every path, as PATCH answers -------------------------


@pytest.fixture(scope="module")
def interaction_id(client: ApiClient) -> str:
    """An interaction to PATCH."""
    created = client.post("/v1/interactions", data=ITEM % "0.5", headers=JSON)
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.mark.parametrize(
    ("path", "body", "headers", "field"),
    [
        ("/v1/interactions", ITEM % HUGE, {}, "rating"),  # the hot lane takes it
        ("/v1/interactions", ITEM % HUGE, {"Idempotency-Key": "huge-rating-1"}, "rating"),
        ("/v1/interactions", ITEM % ("-" + HUGE), {"Idempotency-Key": "huge-rating-2"}, "rating"),
        ("/v1/interactions/batch", f'{{"items": [{ITEM % HUGE}]}}', {}, "items[0].rating"),
        (
            "/v1/interactions/batch",
            f'{{"items": [{ITEM % "0.5"}, {ITEM % HUGE}]}}',
            {"Idempotency-Key": "huge-rating-3"},
            "items[1].rating",
        ),
    ],
    ids=["lane", "flask", "flask-negative", "batch", "batch-second-item"],
)
def test_a_rating_of_400_digits_is_422_like_patch_and_stores_nothing(
    client: ApiClient,
    stored: Counts,
    interaction_id: str,
    path: str,
    body: str,
    headers: dict,
    field: str,
) -> None:
    patched = client.patch(
        f"/v1/interactions/{interaction_id}", data=f'{{"rating": {HUGE}}}', headers=JSON
    )
    expected = assert_problem(patched, 422, ["rating"])["errors"]["rating"]
    assert expected == [TOO_LARGE]
    before = stored()
    response = client.post(path, data=body, headers={**JSON, **headers})
    problem = assert_problem(response, 422, [field])
    assert field in problem["detail"], problem
    assert TOO_LARGE in json.dumps(problem["errors"]), problem
    assert stored() == before


# --- uploaded files -----------------------------------------------------------------------


def upload(client: ApiClient, content: bytes, **extra: object) -> object:
    """POST /v1/files with purpose fine-tune and content as the file part."""
    return client.post(
        "/v1/files",
        data={"purpose": "fine-tune", **extra},
        files={"file": ("train.jsonl", io.BytesIO(content), "application/jsonl")},
    )


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("[" * 100_000 + "]" * 100_000, ["line 2", "nested too deeply"]),
        (
            '{"messages": [], "rating": 0.5, "rating": 0.9}',
            ["line 2", "JSON object has the key 'rating' twice"],
        ),
        (
            chat_line().replace('"card_arrival"}', '"a", "task_type": "b"}'),
            ["line 2", "JSON object has the key 'task_type' twice"],
        ),
        ('{"rating": 1' + "0" * 5000 + "}", ["line 2", "an integer has over"]),
    ],
    ids=[
        "nested-100000-deep",
        "duplicate-rating",
        "duplicate-task-type",
        "int-5000-digits",
    ],
)
def test_a_bad_line_in_an_uploaded_file_ends_in_error_naming_it_once_and_keeps_no_bytes(
    client: ApiClient, stack: Stack, line: str, words: list[str]
) -> None:
    content = f"{chat_line()}\n{line}\n{chat_line()}\n".encode()
    answer = upload(client, content)  # checked by a worker, off the gateway's event loop
    assert answer.status_code == 200 and answer.json()["status"] == "uploaded", answer.text[:300]
    checked = wait_file_checked(client, answer.json()["id"])
    assert checked["status"] == "error", checked
    details = checked["status_details"]
    for word in words:
        assert word in details, details
    assert "line 1" not in details and "line 3" not in details, details
    assert details.count("line 2") == 1, details
    assert checked["tuneloop"]["bad_lines"] == 1, checked
    assert file_keys(stack, checked["id"]) == [keys.file(checked["id"])]  # the record alone


def file_keys(stack: Stack, file_id: str) -> list[str]:
    """Every key of a file: its record, manifest, chunks and jobs set."""
    return sorted(stack.store.redis.scan_iter(match=f"{keys.file(file_id)}*", count=1000))


def test_file_sent_as_a_plain_form_field_is_refused_naming_it(
    client: ApiClient, stored: Counts
) -> None:
    before = stored()
    response = client.post(
        "/v1/files", data={"purpose": "fine-tune", "file": chat_line() + "\n"}
    )  # no filename: a plain field, not a file part
    assert_openai_error(response, 422, "file part", param="file")
    big = client.post("/v1/files", data={"purpose": "fine-tune", "file": "x" * 600_000})
    assert_openai_error(big, 422, "file part", param="file")  # not werkzeug's 500 kB cap
    assert stored() == before


def multipart(parts: int, content: bytes) -> tuple[bytes, str]:
    """A multipart body of parts - 1 purpose fields (the first one counts) and the file."""
    boundary = "tuneloop-parts-boundary"
    fields = [("purpose", "fine-tune")] * (parts - 1)
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="t.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n'
    ).encode()
    body += content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_more_than_1000_multipart_parts_are_refused_saying_so(
    client: ApiClient, stored: Counts
) -> None:
    before = stored()
    body, content_type = multipart(1001, (chat_line() + "\n").encode())
    response = client.post("/v1/files", data=body, headers={"Content-Type": content_type})
    message = assert_openai_error(response, 413, "more than 1000 parts")
    assert "bytes" not in message, message  # not the body-size refusal
    assert stored() == before
    body, content_type = multipart(1000, (chat_line() + "\n").encode())
    accepted = client.post("/v1/files", data=body, headers={"Content-Type": content_type})
    assert accepted.status_code == 200, accepted.text[:300]  # 1000 parts are still fine
    after = {"files": before["files"] + 1, "messages_sent": before["messages_sent"] + 1}
    assert stored() == {**before, **after}  # the file, and the message to check it


# --- a job whose training file was deleted --------------------------------------------------


def test_training_file_of_a_job_whose_file_was_deleted_is_409_naming_the_file(
    client: ApiClient, stack: Stack, stored: Counts
) -> None:
    lines = [chat_line(f"Where is card {i}?") for i in range(12)]
    lines += [chat_line(f"Rate for currency {i}?", "exchange_rate") for i in range(12)]
    uploaded = upload(client, "\n".join(lines).encode())
    assert uploaded.status_code == 200, uploaded.text
    fid = uploaded.json()["id"]
    assert wait_file_checked(client, fid)["status"] == "processed"
    created = client.post(
        "/v1/fine_tuning/jobs",
        json={"training_file": fid, "model": BASELINE_MODEL_ID, "hyperparameters": {"n_epochs": 1}},
    )
    assert created.status_code == 200, created.text
    job_id = created.json()["id"]
    wait_for_job(client, stack, job_id)
    assert client.get(f"/v1/jobs/{job_id}/training_file").status_code == 200
    assert client.delete(f"/v1/files/{fid}").status_code == 200
    before = stored()
    response = client.get(f"/v1/jobs/{job_id}/training_file")
    problem = assert_problem(response, 409)
    assert fid in problem["detail"] and "cannot be regenerated" in problem["detail"], problem
    assert stored() == before


# --- a chunked body gunicorn cannot read ----------------------------------------------------


def raw_exchange(stack: Stack, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send request bytes to the gateway on a new connection; return its one answer."""
    host, port = stack.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        return read_response(sock, timeout=10)


@pytest.mark.parametrize("size", [b"-1", b"-5", b"xyz", b"1\x00"], ids=repr)
@pytest.mark.parametrize("path", ["/v1/interactions", "/v1/interactions/batch", "/v1/files"])
def test_a_chunked_body_with_a_bad_chunk_size_is_400_and_stores_nothing(
    stack: Stack, stored: Counts, path: str, size: bytes
) -> None:
    before = stored()
    request = (
        (
            f"POST {path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {API_KEY}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        + size
        + b'\r\n{"items": []}\r\n0\r\n\r\n'
    )
    status, headers, body = raw_exchange(stack, request)
    assert status == 400, body[:500]
    if path == "/v1/files":
        assert headers["content-type"].startswith("application/json"), headers
        message = json.loads(body)["error"]["message"]
    else:
        assert headers["content-type"].startswith("application/problem+json"), headers
        message = json.loads(body)["detail"]
    assert "chunk size" in message and repr(size) in message, message
    assert stored() == before
