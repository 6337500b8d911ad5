"""Malformed input against the gunicorn gateway: a 4xx problem naming the field, nothing stored."""

import json
from dataclasses import dataclass, field

import pytest

from .support import ApiClient, Stack, assert_problem, wait_for_job

pytestmark = pytest.mark.integration

JSON = "application/json"


def interaction(**changes: object) -> dict:
    """A valid interaction with some fields changed (a value of DROP removes the field)."""
    item = {
        "input": "How long should I boil an egg?",
        "output": "About nine minutes for a hard-boiled egg.",
        "rating": 0.9,
        "task_type": "cooking",
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not DROP}


def job(**changes: object) -> dict:
    """A valid job request with some fields changed (a value of DROP removes the field)."""
    body = {"hyperparameters": {"n_epochs": 1}, "task_types": ["malformed-never-runs"]}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not DROP}


def raw(obj: object) -> str:
    """Encode obj as JSON text (allowing NaN and Infinity literals, as some clients send)."""
    return json.dumps(obj, allow_nan=True)


DROP = object()


def nested(depth: int) -> dict:
    """A JSON object nested depth levels deep."""
    value: object = 1
    for _ in range(depth):
        value = {"k": value}
    return value  # type: ignore[return-value]


@dataclass
class Case:
    """One malformed request and the problem it must get."""

    id: str
    method: str
    path: str
    status: int
    fields: list[str] = field(default_factory=list)
    body: object = None  # JSON-encoded unless it is already str or bytes
    content_type: str | None = JSON
    marks: tuple = ()

    def send(self, client: ApiClient, job_id: str) -> object:
        data = self.body
        if data is not None and not isinstance(data, str | bytes):
            data = json.dumps(data)
        headers = (
            {"Content-Type": self.content_type} if self.content_type and data is not None else {}
        )
        return client.request(self.method, self.path.format(job=job_id), data=data, headers=headers)


def post(path: str, case_id: str, body: object, status: int, *fields: str, **kw) -> Case:
    return Case(case_id, "POST", path, status, list(fields), body, **kw)


def get(path: str, case_id: str, status: int, *fields: str, **kw) -> Case:
    return Case(case_id, "GET", path, status, list(fields), **kw)


ONE, BATCH, JOBS = "/v1/interactions", "/v1/interactions/batch", "/v1/jobs"
RESPOND = "/v1/models/tuneloop-keyword-baseline/responses"
LONG = "x" * 4001

CASES = [
    # --- one interaction -------------------------------------------------------------
    post(ONE, "interaction-invalid-json", '{"input": "a",', 400, "body"),
    post(ONE, "interaction-not-utf8", b"\xff\xfe{}", 400, "body"),
    post(ONE, "interaction-text-plain", "input=a", 415, content_type="text/plain"),
    post(ONE, "interaction-form", "input=a", 415, content_type="application/x-www-form-urlencoded"),
    post(ONE, "interaction-no-content-type", raw(interaction()), 415, content_type=None),
    post(ONE, "interaction-empty-object", {}, 422, "input", "output", "rating", "task_type"),
    *[
        post(ONE, f"interaction-missing-{f}", interaction(**{f: DROP}), 422, f)
        for f in ("input", "output", "rating", "task_type")
    ],
    post(ONE, "interaction-unknown-field", interaction(score=1), 422, "score"),
    post(ONE, "interaction-id-given", interaction(id="int_mine"), 422, "id"),
    post(ONE, "interaction-array-body", [interaction()], 422, "body"),
    post(ONE, "interaction-null-body", "null", 422, "body"),
    post(ONE, "interaction-string-body", '"hello"', 422, "body"),
    post(ONE, "interaction-input-number", interaction(input=5), 422, "input"),
    post(ONE, "interaction-output-list", interaction(output=["a"]), 422, "output"),
    post(ONE, "interaction-rating-word", interaction(rating="high"), 422, "rating"),
    post(ONE, "interaction-rating-bool", interaction(rating=True), 422, "rating"),
    post(ONE, "interaction-rating-null", interaction(rating=None), 422, "rating"),
    post(ONE, "interaction-rating-numeric-string", interaction(rating="0.9"), 422, "rating"),
    post(ONE, "interaction-task-type-number", interaction(task_type=7), 422, "task_type"),
    post(ONE, "interaction-metadata-list", interaction(metadata=[1]), 422, "metadata"),
    post(ONE, "interaction-metadata-string", interaction(metadata="x"), 422, "metadata"),
    post(ONE, "interaction-rating-below-0", interaction(rating=-0.1), 422, "rating"),
    post(ONE, "interaction-rating-above-1", interaction(rating=1.1), 422, "rating"),
    post(ONE, "interaction-rating-NaN", raw(interaction(rating=float("nan"))), 422, "rating"),
    post(ONE, "interaction-rating-Infinity", raw(interaction(rating=float("inf"))), 422, "rating"),
    post(
        ONE, "interaction-rating--Infinity", raw(interaction(rating=float("-inf"))), 422, "rating"
    ),
    post(ONE, "interaction-rating-overflow", '{"rating": 1e999}', 422, "rating"),
    post(ONE, "interaction-input-empty", interaction(input=""), 422, "input"),
    post(ONE, "interaction-input-spaces", interaction(input="   "), 422, "input"),
    post(ONE, "interaction-output-whitespace", interaction(output=" \t\r\n "), 422, "output"),
    post(ONE, "interaction-input-nul", interaction(input="a\x00b"), 422, "input"),
    post(ONE, "interaction-input-escape", interaction(input="\x1b[31mred"), 422, "input"),
    post(ONE, "interaction-output-bell", interaction(output="ding\x07"), 422, "output"),
    post(ONE, "interaction-output-del", interaction(output="del\x7f"), 422, "output"),
    post(ONE, "interaction-input-c1-control", interaction(input="a\x85b"), 422, "input"),
    post(ONE, "interaction-input-4001", interaction(input=LONG), 422, "input"),
    post(ONE, "interaction-output-4001", interaction(output=LONG), 422, "output"),
    post(ONE, "interaction-task-type-space", interaction(task_type="a b"), 422, "task_type"),
    post(ONE, "interaction-task-type-leading-dash", interaction(task_type="-x"), 422, "task_type"),
    post(ONE, "interaction-task-type-empty", interaction(task_type=""), 422, "task_type"),
    post(ONE, "interaction-task-type-65", interaction(task_type="t" * 65), 422, "task_type"),
    post(ONE, "interaction-source-unknown", interaction(source="robot"), 422, "source"),
    post(ONE, "interaction-metadata-too-deep", interaction(metadata=nested(5)), 422, "metadata"),
    post(
        ONE,
        "interaction-metadata-list-too-deep",
        interaction(metadata={"a": [[[[1]]]]}),
        422,
        "metadata",
    ),
    post(
        ONE,
        "interaction-metadata-too-big",
        interaction(metadata={"blob": "x" * 5000}),
        422,
        "metadata",
    ),
    post(
        ONE,
        "interaction-metadata-key-too-long",
        interaction(metadata={"k" * 65: 1}),
        422,
        "metadata",
    ),
    post(
        ONE,
        "interaction-metadata-NaN",
        raw(interaction(metadata={"x": float("nan")})),
        422,
        "metadata",
    ),
    post(
        ONE,
        "interaction-metadata-Infinity",
        raw(interaction(metadata={"x": [float("-inf")]})),
        422,
        "metadata",
    ),
    post(
        ONE,
        "interaction-number-of-5000-digits",
        '{"rating": 1' + "0" * 4999 + "}",
        400,
        "body",
    ),
    post(
        ONE,
        "interaction-json-nested-100000-deep",
        '{"metadata": ' + "[" * 100_000 + "]" * 100_000 + "}",
        400,
        "body",
    ),
    # --- batches -----------------------------------------------------------------------
    post(BATCH, "batch-1001-items", {"items": [interaction()] * 1001}, 422, "items"),
    post(BATCH, "batch-empty", {"items": []}, 422, "items"),
    post(BATCH, "batch-missing-items", {}, 422, "items"),
    post(BATCH, "batch-items-object", {"items": {"0": interaction()}}, 422, "items"),
    post(BATCH, "batch-unknown-field", {"items": [interaction()], "atomic": True}, 422, "atomic"),
    post(
        BATCH,
        "batch-of-3-with-items[1]-bad",
        {"items": [interaction(), interaction(rating=2), interaction()]},
        422,
        "items[1].rating",
    ),
    post(
        BATCH,
        "batch-of-3-with-items[1]-and-items[2]-bad",
        {"items": [interaction(), interaction(input=""), interaction(task_type=DROP)]},
        422,
        "items[1].input",
        "items[2].task_type",
    ),
    post(BATCH, "batch-items-not-objects", {"items": [interaction(), 5]}, 422, "items[1]"),
    # --- jobs --------------------------------------------------------------------------
    post(JOBS, "job-invalid-json", "{", 400, "body"),
    post(JOBS, "job-text-plain", "{}", 415, content_type="text/plain"),
    post(JOBS, "job-unknown-field", job(model="gpt"), 422, "model"),
    post(JOBS, "job-min-score-above-1", job(min_score=1.5), 422, "min_score"),
    post(JOBS, "job-min-score-string", job(min_score="0.5"), 422, "min_score"),
    post(JOBS, "job-holdout-string", job(holdout_fraction="0.3"), 422, "holdout_fraction"),
    post(JOBS, "job-min-score-NaN", raw(job(min_score=float("nan"))), 422, "min_score"),
    post(JOBS, "job-holdout-0", job(holdout_fraction=0), 422, "holdout_fraction"),
    post(JOBS, "job-holdout-0.95", job(holdout_fraction=0.95), 422, "holdout_fraction"),
    post(
        JOBS, "job-include-synthetic-word", job(include_synthetic="maybe"), 422, "include_synthetic"
    ),
    post(JOBS, "job-task-types-empty", job(task_types=[]), 422, "task_types"),
    post(JOBS, "job-task-types-bad-name", job(task_types=["ok", "not ok"]), 422, "task_types[1]"),
    post(JOBS, "job-suffix-uppercase", job(suffix="Mine"), 422, "suffix"),
    post(JOBS, "job-metadata-too-deep", job(metadata=nested(5)), 422, "metadata"),
    post(JOBS, "job-hyperparameters-null", job(hyperparameters=None), 422, "hyperparameters"),
    post(
        JOBS,
        "job-hyperparameters-unknown",
        job(hyperparameters={"momentum": 0.9}),
        422,
        "hyperparameters.momentum",
    ),
    *[
        post(
            JOBS,
            f"job-{name}-{value!r}",
            job(hyperparameters={name: value}),
            422,
            f"hyperparameters.{name}",
        )
        for name, value in [
            ("n_epochs", 0),
            ("n_epochs", 201),
            ("n_epochs", 2.5),
            ("n_epochs", "5"),
            ("n_epochs", True),
            ("learning_rate", 0),
            ("learning_rate", -1),
            ("learning_rate", 11),
            ("batch_size", 0),
            ("seed", -1),
            ("seed", 2**32),
        ]
    ],
    post(
        JOBS,
        "job-learning-rate-NaN",
        raw(job(hyperparameters={"learning_rate": float("nan")})),
        422,
        "hyperparameters.learning_rate",
    ),
    post(JOBS, "job-eval-set-empty", job(eval_set=[]), 422, "eval_set"),
    post(
        JOBS,
        "job-eval-set-item-missing-input",
        job(eval_set=[{"expected_type": "t"}]),
        422,
        "eval_set[0].input",
    ),
    post(
        JOBS,
        "job-eval-set-item-bad-type",
        job(eval_set=[{"input": "a", "expected_type": "t"}, {"input": "b", "expected_type": ""}]),
        422,
        "eval_set[1].expected_type",
    ),
    post(
        JOBS,
        "job-eval-set-10001-items",
        job(eval_set=[{"input": "q", "expected_type": "t"}] * 10_001),
        422,
        "eval_set",
    ),
    # --- asking a model ----------------------------------------------------------------
    post(RESPOND, "response-missing-input", {}, 422, "input"),
    post(RESPOND, "response-blank-input", {"input": " "}, 422, "input"),
    post(RESPOND, "response-input-4001", {"input": LONG}, 422, "input"),
    post(RESPOND, "response-unknown-field", {"input": "hi", "temperature": 0}, 422, "temperature"),
    post(RESPOND, "response-text-plain", "hi", 415, content_type="text/plain"),
    # --- list parameters ---------------------------------------------------------------
    *[
        get(f"{path}?limit={value}", f"{name}-limit-{value}", 422, "limit")
        for name, path in [
            ("interactions", ONE),
            ("jobs", JOBS),
            ("events", "/v1/jobs/{job}/events"),
        ]
        for value in ("0", "-1", "10000", "abc", "")
    ],
    get(f"{ONE}?min_rating=1.5", "interactions-min-rating-1.5", 422, "min_rating"),
    get(f"{ONE}?min_rating=-0.1", "interactions-min-rating-negative", 422, "min_rating"),
    get(f"{ONE}?min_rating=NaN", "interactions-min-rating-NaN", 422, "min_rating"),
    get(f"{ONE}?min_rating=high", "interactions-min-rating-word", 422, "min_rating"),
    get(f"{ONE}?task_type=a%20b", "interactions-task-type-space", 422, "task_type"),
    get(f"{ONE}?after=", "interactions-after-empty", 422, "after"),
    get(f"{JOBS}?status=done", "jobs-status-unknown", 422, "status"),
    *[
        get(f"/v1/jobs/{{job}}/events?after={cursor}", f"events-after-{cursor}", 422, "after")
        for cursor in ("abc", "1-", "-1-0", "1-2-3", "0x1-0", "1.5-0", "%20")
    ],
    get(
        "/v1/jobs/{job}/events?after=18446744073709551616-0",
        "events-after-beyond-64-bits",
        422,
        "after",
    ),
    get(
        "/v1/jobs/{job}/events?after=18446744073709551615-18446744073709551615",
        "events-after-the-largest-id",
        200,
    ),
    # --- unknown ids -------------------------------------------------------------------
    get("/v1/jobs/ftjob-000000000000000000000000", "job-unknown", 404),
    get("/v1/jobs/ftjob-000000000000000000000000/events", "job-events-unknown", 404),
    get("/v1/jobs/ftjob-000000000000000000000000/training_file", "job-file-unknown", 404),
    get(f"{JOBS}?after=ftjob-000000000000000000000000", "jobs-after-unknown", 404),
    get(f"{ONE}?after=int_000000000000000000000000", "interactions-after-unknown", 404),
    get("/v1/models/ft-000000000000", "model-unknown", 404),
    post("/v1/models/ft-000000000000/responses", "model-unknown-responses", {"input": "hi"}, 404),
    get("/v1/no-such-endpoint", "endpoint-unknown", 404),
    Case("method-not-allowed", "DELETE", JOBS, 405),
]


@pytest.fixture(scope="module")
def job_id(client: ApiClient, stack: Stack) -> str:
    """An existing (quickly failed) job whose events can be paged."""
    created = client.post("/v1/jobs", json=job())
    assert created.status_code == 202, created.text
    wait_for_job(client, stack, created.json()["id"], expect="failed")
    return created.json()["id"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_malformed_request_gets_a_problem_naming_the_field_and_stores_nothing(
    client: ApiClient, counts, job_id: str, case: Case
) -> None:
    before = counts()
    response = case.send(client, job_id)
    if case.status == 200:
        assert response.status_code == 200, response.text
    else:
        body = assert_problem(response, case.status, case.fields)
        if case.status == 422:
            assert body["detail"].startswith("invalid fields: "), body
            for name in case.fields:
                assert name in body["detail"], body
        if case.status == 405:
            assert "GET" in response.headers["Allow"] and "POST" in response.headers["Allow"]
    assert counts() == before, f"{case.id} changed what is stored"


def test_a_batch_with_one_bad_item_stores_none_of_it(client: ApiClient, counts) -> None:
    marker = "batch-atomicity-check"
    before = counts()
    items = [interaction(task_type=marker), interaction(rating=-1), interaction(task_type=marker)]
    response = client.post("/v1/interactions/batch", json={"items": items})
    body = assert_problem(response, 422, ["items[1].rating"])
    assert "items[0]" not in json.dumps(body) and "items[2]" not in body["detail"]
    assert counts() == before
    listed = client.get("/v1/interactions", params={"task_type": marker}).json()
    assert listed["data"] == []
    assert marker not in client.get("/v1/interactions/stats").json()["task_distribution"]


def test_the_largest_valid_text_and_batch_are_accepted(client: ApiClient, counts) -> None:
    before = counts()
    one = client.post("/v1/interactions", json=interaction(input="y" * 4000, output="z" * 4000))
    assert one.status_code == 201, one.text[:300]
    assert len(one.json()["input"]) == 4000
    items = [interaction(input=f"boundary {i}", task_type="boundary") for i in range(1000)]
    batch = client.post("/v1/interactions/batch", json={"items": items})
    assert batch.status_code == 201, batch.text[:300]
    assert batch.json()["count"] == 1000 and len(set(batch.json()["ids"])) == 1000
    assert counts()["interactions"] == before["interactions"] + 1001


def test_an_eval_set_of_10000_items_is_accepted(client: ApiClient, stack: Stack) -> None:
    eval_set = [{"input": f"q{i}", "expected_type": "t"} for i in range(10_000)]
    created = client.post("/v1/jobs", json=job(eval_set=eval_set))
    assert created.status_code == 202, created.text[:300]
    assert created.headers["Location"].endswith(f"/v1/jobs/{created.json()['id']}")
    assert len(created.json()["request"]["eval_set"]) == 10_000
    wait_for_job(client, stack, created.json()["id"], expect="failed")
