"""Malformed input: a 4xx problem naming the problem, nothing stored, nothing sent.

The cases go to the gateway app in this process (Flask's test client: validation needs no
real server; body limits and slow bodies are tested on gunicorn in test_limits.py and
test_slow_clients.py), on the session's real redis-server and worker.

Every case also checks that the request changed nothing the system counts: the number of
interactions (GET /v1/interactions/stats), the number of jobs (the job index in Redis) and the
number of messages sent to the workers, as the broker saw them (support.SentMessages: pushes
onto the Celery queues from outside any task). A request that was wrongly accepted shows up
there even when its status looks right. test_the_counts_see_every_kind_of_accepted_request
proves the three counts move when something is stored or sent, so "unchanged" is not vacuous.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from .support import (
    AppClient,
    AppResponse,
    SentMessages,
    Stack,
    assert_problem,
    reset_store,
    wait_for_job,
)

pytestmark = pytest.mark.integration

JSON = "application/json"
DROP = object()


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
    """A valid job request with some fields changed (a value of DROP removes the field).

    Its task type matches no stored interaction, so a job wrongly created from it fails at
    once in filter instead of keeping the worker busy.
    """
    body = {"hyperparameters": {"n_epochs": 1}, "task_types": ["malformed-never-runs"]}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not DROP}


def raw(obj: object) -> str:
    """Encode obj as JSON text (allowing NaN and Infinity literals, as some clients send)."""
    return json.dumps(obj, allow_nan=True)


def not_utf8(obj: object) -> bytes:
    """obj as JSON bytes, with every string value "BROKEN" replaced by bytes that are not UTF-8."""
    return json.dumps(obj).encode().replace(b"BROKEN", b"caf\xe9 \xff\xc3\x28")


def deep(obj: object, depth: int, brackets: str = "{}") -> str:
    """obj as JSON text with the value "DEEP" replaced by JSON nested depth levels deep.

    Written as text: json.dumps itself gives up on such depths.
    """
    opening = '{"k": ' if brackets == "{}" else "["
    inner = "1" if brackets == "{}" else ""
    return json.dumps(obj).replace('"DEEP"', opening * depth + inner + brackets[1] * depth)


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
    detail: str | None = None  # text the problem's detail must hold
    allow: tuple[str, ...] = ()  # methods a 405's Allow header must list

    def send(self, client: AppClient, job_id: str) -> AppResponse:
        data = self.body
        if data is not None and not isinstance(data, str | bytes):
            data = json.dumps(data)  # ASCII: a lone surrogate goes out as the escape \ud800
        headers = (
            {"Content-Type": self.content_type} if self.content_type and data is not None else {}
        )
        return client.request(self.method, self.path.format(job=job_id), data=data, headers=headers)

    def param(self) -> object:
        return pytest.param(self, id=self.id)


def post(path: str, case_id: str, body: object, status: int, *fields: str, **kw) -> Case:
    return Case(case_id, "POST", path, status, list(fields), body, **kw)


def get(path: str, case_id: str, status: int, *fields: str, **kw) -> Case:
    return Case(case_id, "GET", path, status, list(fields), **kw)


ONE, BATCH, JOBS = "/v1/interactions", "/v1/interactions/batch", "/v1/jobs"
RESPOND = "/v1/models/tuneloop-keyword-baseline/responses"
LONG = "x" * 4001
UNKNOWN_JOB = "ftjob-000000000000000000000000"
INVALID_JSON = "Invalid JSON body."
DUPLICATE_RATING = "JSON object has the key 'rating' twice."
TOO_DEEP = "JSON body is nested too deeply."
DEEP_JSON = "[" * 100_000 + "]" * 100_000
LONE_SURROGATE = "lone surrogate"


CASES = [
    # --- one interaction -------------------------------------------------------------
    post(ONE, "interaction-invalid-json", '{"input": "a",', 400, "body", detail=INVALID_JSON),
    post(ONE, "interaction-empty-body", b"", 400, "body", detail=INVALID_JSON),
    post(ONE, "interaction-whitespace-body", b" \r\n\t ", 400, "body", detail=INVALID_JSON),
    post(ONE, "interaction-not-utf8", b"\xff\xfe{}", 400, "body"),
    post(
        ONE,
        "interaction-duplicate-key",
        '{"input": "a", "output": "b", "rating": 2, "rating": 0.5, "task_type": "t"}',
        400,
        "body",
        detail=DUPLICATE_RATING,
    ),
    post(
        BATCH,
        "batch-duplicate-key-in-an-item",
        '{"items": [{"input": "a", "output": "b", "rating": 0.5, "rating": 0.9, '
        '"task_type": "t"}]}',
        400,
        "body",
        detail=DUPLICATE_RATING,
    ),
    post(
        JOBS,
        "job-duplicate-key-in-hyperparameters",
        '{"hyperparameters": {"seed": 1, "seed": 2}}',
        400,
        "body",
        detail="JSON object has the key 'seed' twice.",
    ),
    post(
        ONE, "interaction-not-utf8-in-a-string", not_utf8(interaction(input="BROKEN")), 400, "body"
    ),
    post(
        ONE,
        "interaction-latin-1-with-charset",
        json.dumps(interaction(input="café"), ensure_ascii=False).encode("latin-1"),
        400,
        "body",
        content_type="application/json; charset=latin-1",
    ),
    post(
        ONE,
        "interaction-utf-16-body",
        json.dumps(interaction()).encode("utf-16"),
        400,
        "body",
        detail=INVALID_JSON,
    ),
    post(ONE, "interaction-text-plain", "input=a", 415, content_type="text/plain"),
    post(ONE, "interaction-form", "input=a", 415, content_type="application/x-www-form-urlencoded"),
    post(ONE, "interaction-no-content-type", raw(interaction()), 415, content_type=None),
    post(
        ONE,
        "interaction-multipart",
        raw(interaction()),
        415,
        content_type="multipart/form-data; boundary=x",
    ),
    post(ONE, "interaction-empty-object", {}, 422, "input", "output", "rating", "task_type"),
    *[
        post(ONE, f"interaction-missing-{f}", interaction(**{f: DROP}), 422, f)
        for f in ("input", "output", "rating", "task_type")
    ],
    post(ONE, "interaction-unknown-field", interaction(score=1), 422, "score"),
    post(ONE, "interaction-id-given", interaction(id="int_mine"), 422, "id"),
    post(ONE, "interaction-created-at-given", interaction(created_at=0), 422, "created_at"),
    post(ONE, "interaction-array-body", [interaction()], 422, "body"),
    post(ONE, "interaction-null-body", "null", 422, "body"),
    post(ONE, "interaction-string-body", '"hello"', 422, "body"),
    post(ONE, "interaction-number-body", "42", 422, "body"),
    post(ONE, "interaction-input-number", interaction(input=5), 422, "input"),
    post(ONE, "interaction-input-null", interaction(input=None), 422, "input"),
    post(ONE, "interaction-input-object", interaction(input={"text": "a"}), 422, "input"),
    post(ONE, "interaction-output-list", interaction(output=["a"]), 422, "output"),
    post(ONE, "interaction-rating-word", interaction(rating="high"), 422, "rating"),
    post(ONE, "interaction-rating-bool", interaction(rating=True), 422, "rating"),
    post(ONE, "interaction-rating-null", interaction(rating=None), 422, "rating"),
    post(ONE, "interaction-rating-list", interaction(rating=[0.5]), 422, "rating"),
    post(ONE, "interaction-rating-numeric-string", interaction(rating="0.9"), 422, "rating"),
    post(ONE, "interaction-task-type-number", interaction(task_type=7), 422, "task_type"),
    post(ONE, "interaction-source-number", interaction(source=1), 422, "source"),
    post(ONE, "interaction-source-null", interaction(source=None), 422, "source"),
    post(ONE, "interaction-metadata-list", interaction(metadata=[1]), 422, "metadata"),
    post(ONE, "interaction-metadata-string", interaction(metadata="x"), 422, "metadata"),
    post(ONE, "interaction-metadata-null", interaction(metadata=None), 422, "metadata"),
    post(ONE, "interaction-rating-below-0", interaction(rating=-0.1), 422, "rating"),
    post(ONE, "interaction-rating-above-1", interaction(rating=1.1), 422, "rating"),
    post(ONE, "interaction-rating-just-above-1", interaction(rating=1.0000001), 422, "rating"),
    post(ONE, "interaction-rating-huge", interaction(rating=1e308), 422, "rating"),
    post(ONE, "interaction-rating-NaN", raw(interaction(rating=float("nan"))), 422, "rating"),
    post(ONE, "interaction-rating-Infinity", raw(interaction(rating=float("inf"))), 422, "rating"),
    post(
        ONE, "interaction-rating--Infinity", raw(interaction(rating=float("-inf"))), 422, "rating"
    ),
    post(ONE, "interaction-rating-overflow", '{"rating": 1e999}', 422, "rating"),
    post(ONE, "interaction-input-empty", interaction(input=""), 422, "input"),
    post(ONE, "interaction-output-empty", interaction(output=""), 422, "output"),
    post(ONE, "interaction-input-spaces", interaction(input="   "), 422, "input"),
    post(ONE, "interaction-output-whitespace", interaction(output=" \t\r\n "), 422, "output"),
    post(
        ONE,
        "interaction-input-unicode-spaces",
        interaction(input="\u00a0\u3000\u2003"),
        422,
        "input",
    ),
    post(
        ONE,
        "interaction-input-invisible-format-chars",
        interaction(input="\u200b\u2060\ufeff"),
        422,
        "input",
    ),
    post(ONE, "interaction-input-nul", interaction(input="a\x00b"), 422, "input"),
    post(ONE, "interaction-input-escape", interaction(input="\x1b[31mred"), 422, "input"),
    post(ONE, "interaction-output-bell", interaction(output="ding\x07"), 422, "output"),
    post(ONE, "interaction-output-del", interaction(output="del\x7f"), 422, "output"),
    post(ONE, "interaction-input-c1-control", interaction(input="a\x85b"), 422, "input"),
    post(ONE, "interaction-output-backspace", interaction(output="ab\x08c"), 422, "output"),
    post(
        ONE,
        "interaction-input-lone-high-surrogate",
        interaction(input="\ud800"),
        422,
        "input",
        detail="input",
    ),
    post(
        ONE, "interaction-output-lone-low-surrogate", interaction(output="a\udc00"), 422, "output"
    ),
    post(
        ONE,
        "interaction-input-reversed-surrogate-pair",
        interaction(input="\udc00\ud800"),
        422,
        "input",
    ),
    post(
        ONE,
        "interaction-input-lone-surrogate-literal",
        '{"input": "\\ud800", "output": "o", "rating": 0.5, "task_type": "t"}',
        422,
        "input",
    ),
    post(
        ONE,
        "interaction-task-type-lone-surrogate",
        interaction(task_type="t\ud800"),
        422,
        "task_type",
    ),
    post(ONE, "interaction-input-4001", interaction(input=LONG), 422, "input"),
    post(ONE, "interaction-output-4001", interaction(output=LONG), 422, "output"),
    post(ONE, "interaction-input-1-mb", interaction(input="y" * 1_000_000), 422, "input"),
    post(
        ONE, "interaction-task-type-trailing-space", interaction(task_type="a "), 422, "task_type"
    ),
    post(ONE, "interaction-task-type-leading-space", interaction(task_type=" x"), 422, "task_type"),
    post(ONE, "interaction-task-type-empty", interaction(task_type=""), 422, "task_type"),
    post(ONE, "interaction-task-type-newline", interaction(task_type="t\n"), 422, "task_type"),
    post(
        ONE, "interaction-task-type-zero-width", interaction(task_type="a\u200b"), 422, "task_type"
    ),
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
        "interaction-metadata-100-deep",
        deep(interaction(metadata="DEEP"), 100),
        422,
        "metadata",
    ),
    post(
        ONE,
        "interaction-metadata-600-deep",
        deep(interaction(metadata="DEEP"), 600),
        422,
        "metadata",
    ),
    post(
        ONE,
        "interaction-metadata-list-600-deep",
        deep(interaction(metadata={"a": "DEEP"}), 600, "[]"),
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
    post(ONE, "interaction-metadata-key-empty", interaction(metadata={"": 1}), 422, "metadata"),
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
        "interaction-metadata-number-overflow",
        '{"input": "i", "output": "o", "rating": 0.5, "task_type": "t", "metadata": {"x": 1e999}}',
        422,
        "metadata",
    ),
    post(
        ONE,
        "interaction-metadata-value-lone-surrogate",
        interaction(metadata={"note": "\ud800"}),
        422,
        "metadata",
    ),
    post(
        ONE,
        "interaction-metadata-key-lone-surrogate",
        interaction(metadata={"\udc00": 1}),
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
        '{"metadata": ' + DEEP_JSON + "}",
        400,
        "body",
        detail=TOO_DEEP,
    ),
    # --- batches -----------------------------------------------------------------------
    post(BATCH, "batch-invalid-json", '{"items": [', 400, "body", detail=INVALID_JSON),
    post(BATCH, "batch-empty-body", b"", 400, "body", detail=INVALID_JSON),
    post(BATCH, "batch-not-utf8", not_utf8({"items": [interaction(input="BROKEN")]}), 400, "body"),
    post(BATCH, "batch-json-nested-100000-deep", DEEP_JSON, 400, "body", detail=TOO_DEEP),
    post(BATCH, "batch-text-plain", raw({"items": []}), 415, content_type="text/plain"),
    post(BATCH, "batch-no-content-type", raw({"items": [interaction()]}), 415, content_type=None),
    post(BATCH, "batch-1001-items", {"items": [interaction()] * 1001}, 422, "items"),
    post(BATCH, "batch-empty", {"items": []}, 422, "items"),
    post(BATCH, "batch-missing-items", {}, 422, "items"),
    post(BATCH, "batch-items-null", {"items": None}, 422, "items"),
    post(BATCH, "batch-items-object", {"items": {"0": interaction()}}, 422, "items"),
    post(BATCH, "batch-array-body", [interaction()], 422, "body"),
    post(BATCH, "batch-null-body", "null", 422, "body"),
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
    post(
        BATCH,
        "batch-item-rating-NaN",
        raw({"items": [interaction(), interaction(rating=float("nan"))]}),
        422,
        "items[1].rating",
    ),
    post(
        BATCH,
        "batch-item-rating-Infinity",
        raw({"items": [interaction(rating=float("inf"))]}),
        422,
        "items[0].rating",
    ),
    post(
        BATCH,
        "batch-item-rating-string",
        {"items": [interaction(rating="1")]},
        422,
        "items[0].rating",
    ),
    post(
        BATCH,
        "batch-item-unknown-field",
        {"items": [interaction(), interaction(extra=1)]},
        422,
        "items[1].extra",
    ),
    post(
        BATCH,
        "batch-item-input-whitespace",
        {"items": [interaction(input="\t \n")]},
        422,
        "items[0].input",
    ),
    post(
        BATCH,
        "batch-item-output-control-character",
        {"items": [interaction(output="a\x1fb")]},
        422,
        "items[0].output",
    ),
    post(
        BATCH,
        "batch-item-input-lone-surrogate",
        {"items": [interaction(), interaction(input="x\ud800y")]},
        422,
        "items[1].input",
        detail="items[1].input",
    ),
    post(
        BATCH,
        "batch-item-output-4001",
        {"items": [interaction(output=LONG)]},
        422,
        "items[0].output",
    ),
    post(
        BATCH,
        "batch-item-metadata-too-deep",
        {"items": [interaction(metadata=nested(5))]},
        422,
        "items[0].metadata",
    ),
    post(
        BATCH,
        "batch-item-metadata-600-deep",
        deep({"items": [interaction(), interaction(metadata="DEEP")]}, 600),
        422,
        "items[1].metadata",
    ),
    post(
        BATCH,
        "batch-item-metadata-lone-surrogate",
        {"items": [interaction(metadata={"m": "\udfff"})]},
        422,
        "items[0].metadata",
    ),
    # --- jobs --------------------------------------------------------------------------
    post(JOBS, "job-invalid-json", "{", 400, "body"),
    post(JOBS, "job-empty-body", b"", 400, "body", detail=INVALID_JSON),
    post(JOBS, "job-not-utf8", not_utf8(job(suffix="BROKEN")), 400, "body"),
    post(JOBS, "job-json-nested-100000-deep", DEEP_JSON, 400, "body", detail=TOO_DEEP),
    post(JOBS, "job-text-plain", "{}", 415, content_type="text/plain"),
    post(JOBS, "job-no-content-type", raw(job()), 415, content_type=None),
    post(JOBS, "job-array-body", [job()], 422, "body"),
    post(JOBS, "job-unknown-model", job(model="gpt"), 400, "model", detail="registered ones are"),
    post(JOBS, "job-min-score-above-1", job(min_score=1.5), 422, "min_score"),
    post(JOBS, "job-min-score-below-0", job(min_score=-0.5), 422, "min_score"),
    post(JOBS, "job-min-score-string", job(min_score="0.5"), 422, "min_score"),
    post(JOBS, "job-holdout-string", job(holdout_fraction="0.3"), 422, "holdout_fraction"),
    post(JOBS, "job-min-score-NaN", raw(job(min_score=float("nan"))), 422, "min_score"),
    post(JOBS, "job-min-score-Infinity", raw(job(min_score=float("inf"))), 422, "min_score"),
    post(
        JOBS,
        "job-holdout--Infinity",
        raw(job(holdout_fraction=float("-inf"))),
        422,
        "holdout_fraction",
    ),
    post(JOBS, "job-holdout-0", job(holdout_fraction=0), 422, "holdout_fraction"),
    post(JOBS, "job-holdout-0.95", job(holdout_fraction=0.95), 422, "holdout_fraction"),
    post(
        JOBS, "job-include-synthetic-word", job(include_synthetic="maybe"), 422, "include_synthetic"
    ),
    post(
        JOBS,
        "job-include-synthetic-string-true",
        job(include_synthetic="true"),
        422,
        "include_synthetic",
    ),
    post(
        JOBS,
        "job-include-synthetic-number-1",
        job(include_synthetic=1),
        422,
        "include_synthetic",
    ),
    post(JOBS, "job-task-types-empty", job(task_types=[]), 422, "task_types"),
    post(JOBS, "job-task-types-string", job(task_types="cooking"), 422, "task_types"),
    post(JOBS, "job-task-types-bad-name", job(task_types=["ok", " not ok"]), 422, "task_types[1]"),
    post(
        JOBS,
        "job-task-types-lone-surrogate",
        job(task_types=["ok", "\ud800"]),
        422,
        "task_types[1]",
    ),
    post(JOBS, "job-suffix-uppercase", job(suffix="Mine"), 422, "suffix"),
    post(JOBS, "job-suffix-41-chars", job(suffix="a" * 41), 422, "suffix"),
    post(JOBS, "job-suffix-empty", job(suffix=""), 422, "suffix"),
    post(JOBS, "job-suffix-control-character", job(suffix="a\x00"), 422, "suffix"),
    post(JOBS, "job-metadata-too-deep", job(metadata=nested(5)), 422, "metadata"),
    post(
        JOBS,
        "job-metadata-600-deep",
        deep(job(metadata="DEEP"), 600),
        422,
        "metadata",
    ),
    post(JOBS, "job-metadata-too-big", job(metadata={"b": "x" * 5000}), 422, "metadata"),
    post(
        JOBS,
        "job-metadata-lone-surrogate",
        job(metadata={"note": "\ud800"}),
        422,
        "metadata",
    ),
    post(JOBS, "job-hyperparameters-null", job(hyperparameters=None), 422, "hyperparameters"),
    post(JOBS, "job-hyperparameters-list", job(hyperparameters=[1]), 422, "hyperparameters"),
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
            ("n_epochs", None),
            ("n_epochs", 10**30),
            ("learning_rate", 0),
            ("learning_rate", -1),
            ("learning_rate", 11),
            ("learning_rate", "0.1"),
            ("batch_size", 0),
            ("batch_size", 4097),
            ("seed", -1),
            ("seed", 2**32),
            ("seed", 1.5),
        ]
    ],
    post(
        JOBS,
        "job-learning-rate-NaN",
        raw(job(hyperparameters={"learning_rate": float("nan")})),
        422,
        "hyperparameters.learning_rate",
    ),
    post(
        JOBS,
        "job-learning-rate-Infinity",
        raw(job(hyperparameters={"learning_rate": float("inf")})),
        422,
        "hyperparameters.learning_rate",
    ),
    post(JOBS, "job-eval-set-empty", job(eval_set=[]), 422, "eval_set"),
    post(JOBS, "job-eval-set-object", job(eval_set={"input": "a"}), 422, "eval_set"),
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
        "job-eval-set-item-unknown-field",
        job(eval_set=[{"input": "a", "expected_type": "t", "weight": 2}]),
        422,
        "eval_set[0].weight",
    ),
    *[
        post(
            JOBS,
            f"job-eval-set-{name}",
            job(eval_set=[{"input": "fine", "expected_type": "t"}, {"expected_type": "t", **case}]),
            422,
            f"eval_set[1].{list(case)[-1]}",
        )
        for name, case in [
            ("input-empty", {"input": ""}),
            ("input-whitespace", {"input": " \n "}),
            ("input-control-character", {"input": "a\x00"}),
            ("input-lone-surrogate", {"input": "\ud800"}),
            ("input-4001", {"input": LONG}),
            ("input-number", {"input": 3}),
            ("reference-output-whitespace", {"input": "q", "reference_output": "\t"}),
            ("reference-output-control-character", {"input": "q", "reference_output": "a\x1b"}),
            ("reference-output-lone-surrogate", {"input": "q", "reference_output": "\udbff"}),
            ("reference-output-4001", {"input": "q", "reference_output": LONG}),
        ]
    ],
    post(
        JOBS,
        "job-eval-set-10001-items",
        job(eval_set=[{"input": "q", "expected_type": "t"}] * 10_001),
        422,
        "eval_set",
    ),
    # --- asking a model ----------------------------------------------------------------
    post(RESPOND, "response-invalid-json", '{"input": ', 400, "body", detail=INVALID_JSON),
    post(RESPOND, "response-empty-body", b"", 400, "body", detail=INVALID_JSON),
    post(RESPOND, "response-not-utf8", not_utf8({"input": "BROKEN"}), 400, "body"),
    post(RESPOND, "response-json-nested-100000-deep", DEEP_JSON, 400, "body", detail=TOO_DEEP),
    post(RESPOND, "response-text-plain", "hi", 415, content_type="text/plain"),
    post(RESPOND, "response-no-content-type", raw({"input": "hi"}), 415, content_type=None),
    post(RESPOND, "response-missing-input", {}, 422, "input"),
    post(RESPOND, "response-array-body", [{"input": "hi"}], 422, "body"),
    post(RESPOND, "response-input-number", {"input": 42}, 422, "input"),
    post(RESPOND, "response-input-null", {"input": None}, 422, "input"),
    post(RESPOND, "response-input-NaN", '{"input": NaN}', 422, "input"),
    post(RESPOND, "response-input-Infinity", '{"input": Infinity}', 422, "input"),
    post(RESPOND, "response-empty-input", {"input": ""}, 422, "input"),
    post(RESPOND, "response-blank-input", {"input": " "}, 422, "input"),
    post(RESPOND, "response-input-control-character", {"input": "a\x00b"}, 422, "input"),
    post(RESPOND, "response-input-lone-surrogate", {"input": "\ud800"}, 422, "input"),
    post(RESPOND, "response-input-4001", {"input": LONG}, 422, "input"),
    post(RESPOND, "response-unknown-field", {"input": "hi", "temperature": 0}, 422, "temperature"),
    # --- list parameters ---------------------------------------------------------------
    *[
        get(f"{path}?limit={value}", f"{name}-limit-{value}", 422, "limit")
        for name, path, maximum in [
            ("interactions", ONE, 1000),
            ("jobs", JOBS, 100),
            ("events", "/v1/jobs/{job}/events", 1000),
        ]
        for value in (
            "0",
            "-1",
            str(maximum + 1),
            "10000",
            "99999999999999999999999",
            "-99999999999999999999999",
            "abc",
            "",
            "%20",
            "2.5",
            "1e3",
            "0x10",
            "NaN",
            "Infinity",
            "true",
        )
    ],
    get(f"{ONE}?min_rating=1.5", "interactions-min-rating-1.5", 422, "min_rating"),
    get(f"{ONE}?min_rating=-0.1", "interactions-min-rating-negative", 422, "min_rating"),
    get(f"{ONE}?min_rating=NaN", "interactions-min-rating-NaN", 422, "min_rating"),
    get(f"{ONE}?min_rating=Infinity", "interactions-min-rating-Infinity", 422, "min_rating"),
    get(f"{ONE}?min_rating=1e999", "interactions-min-rating-overflow", 422, "min_rating"),
    get(f"{ONE}?min_rating=high", "interactions-min-rating-word", 422, "min_rating"),
    get(f"{ONE}?task_type=a%20", "interactions-task-type-trailing-space", 422, "task_type"),
    get(f"{ONE}?task_type=reverted_card_payment%3F", "interactions-task-type-banking77", 200),
    get(f"{ONE}?task_type=%FF", "interactions-task-type-not-utf8", 422, "task_type"),
    get(f"{ONE}?task_type=%00", "interactions-task-type-nul", 422, "task_type"),
    get(f"{ONE}?task_type=" + "t" * 65, "interactions-task-type-65", 422, "task_type"),
    get(f"{ONE}?after=", "interactions-after-empty", 422, "after"),
    get(f"{ONE}?after=" + "i" * 65, "interactions-after-65", 422, "after"),
    get(f"{JOBS}?status=done", "jobs-status-unknown", 422, "status"),
    get(f"{JOBS}?status=", "jobs-status-empty", 422, "status"),
    get(f"{JOBS}?after=", "jobs-after-empty", 422, "after"),
    *[
        get(f"/v1/jobs/{{job}}/events?after={cursor}", f"events-after-{cursor}", 422, "after")
        for cursor in ("abc", "1-", "-1-0", "1-2-3", "0x1-0", "1.5-0", "%20", "", "%FF-0")
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
    get(f"/v1/jobs/{UNKNOWN_JOB}", "job-unknown", 404, detail=UNKNOWN_JOB),
    get(f"/v1/jobs/{UNKNOWN_JOB}/events", "job-events-unknown", 404, detail=UNKNOWN_JOB),
    get(f"/v1/jobs/{UNKNOWN_JOB}/events?after=1-0", "job-events-unknown-with-cursor", 404),
    get(f"/v1/jobs/{UNKNOWN_JOB}/training_file", "job-file-unknown", 404, detail=UNKNOWN_JOB),
    get("/v1/jobs/%FF", "job-id-not-utf8", 404),
    get("/v1/jobs/" + "j" * 2000, "job-id-2000-chars", 404),
    get(f"{JOBS}?after={UNKNOWN_JOB}", "jobs-after-unknown", 404, detail=UNKNOWN_JOB),
    get(f"{ONE}?after=int_000000000000000000000000", "interactions-after-unknown", 404),
    get("/v1/models/ft-000000000000", "model-unknown", 404, detail="ft-000000000000"),
    get("/v1/models/tuneloop-keyword-baseline-2", "model-baseline-lookalike", 404),
    post(
        "/v1/models/ft-000000000000/responses",
        "model-unknown-responses",
        {"input": "hi"},
        404,
        detail="ft-000000000000",
    ),
    post("/v1/models/%ED%A0%80/responses", "model-id-surrogate-responses", {"input": "hi"}, 404),
    post(
        f"/v1/jobs/{UNKNOWN_JOB}/cancel",
        "cancel-unknown-job",
        b"",
        404,
        detail=UNKNOWN_JOB,
    ),
    post(
        f"/v1/jobs/{UNKNOWN_JOB}/cancel",
        "cancel-unknown-job-without-a-body",
        None,
        404,
        content_type=None,
    ),
    post("/v1/jobs/{job}/cancel", "cancel-finished-job", b"", 409, detail="already finished"),
    get("/v1/no-such-endpoint", "endpoint-unknown", 404),
    post("/v1/no-such-endpoint", "post-endpoint-unknown", {}, 404),
    post(
        "/v1/no-such-endpoint",
        "post-endpoint-unknown-without-a-body",
        None,
        404,
        content_type=None,
    ),
    # --- methods -----------------------------------------------------------------------
    Case("method-not-allowed", "DELETE", JOBS, 405, allow=("GET", "POST")),
    Case("put-jobs-with-json", "PUT", JOBS, 405, body={}, allow=("GET", "POST")),
    Case(
        "put-jobs-without-a-body",
        "PUT",
        JOBS,
        405,
        content_type=None,
        allow=("GET", "POST"),
    ),
    post("/v1/interactions/stats", "post-stats-with-json", {}, 405, allow=("GET",)),
    post(
        "/v1/interactions/stats",
        "post-stats-without-a-body",
        None,
        405,
        content_type=None,
        allow=("GET",),
    ),
]


@dataclass(frozen=True)
class Counts:
    """What a request that stores or sends nothing must leave as it was."""

    interactions: int
    jobs: int
    messages_sent: int


class StoredCounts:
    """The counts read when the test started; changes() reads them again and compares."""

    def __init__(self, read: Callable[[], Counts]) -> None:
        self.read = read
        self.before = read()

    def changes(self) -> dict[str, int]:
        """Return each count that moved since the start, by how much."""
        after = self.read()
        deltas = {
            name: getattr(after, name) - getattr(self.before, name)
            for name in ("interactions", "jobs", "messages_sent")
        }
        return {name: delta for name, delta in deltas.items() if delta}


@pytest.fixture
def stored(app_client: AppClient, stack: Stack, sent: SentMessages) -> StoredCounts:
    """Snapshot the interaction, job and sent-message counts before the test runs."""

    def read() -> Counts:
        stats = app_client.get("/v1/interactions/stats")
        assert stats.status_code == 200, f"stats: {stats.status_code} {stats.text[:300]}"
        return Counts(
            interactions=stats.json()["count"],
            jobs=stack.store.jobs.count(),
            messages_sent=sent.sent_from_outside(),
        )

    return StoredCounts(read)


@pytest.fixture(scope="module", autouse=True)
def store_wiped_afterwards(stack: Stack) -> Iterator[None]:
    """Wipe the records once this module is done: its large batches stay out of other modules."""
    yield
    reset_store(stack)


@pytest.fixture(scope="module")
def job_id(app_client: AppClient, stack: Stack) -> str:
    """An existing (quickly failed) job whose events can be paged and which cannot be cancelled."""
    created = app_client.post("/v1/jobs", json=job())
    assert created.status_code == 202, created.text
    wait_for_job(app_client, stack, created.json()["id"], expect="failed")
    return created.json()["id"]


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_malformed_request_gets_a_problem_naming_the_field_and_stores_nothing(
    app_client: AppClient, job_id: str, stored: StoredCounts, case: Case
) -> None:
    response = case.send(app_client, job_id)
    if case.status == 200:
        assert response.status_code == 200, response.text[:500]
    else:
        body = assert_problem(response, case.status, case.fields)
        if case.status == 422:
            assert body["detail"].startswith("invalid fields: "), body
            for name in case.fields:
                assert name in body["detail"], body
        if case.status == 400 and not case.detail:  # a malformed body
            assert body["detail"] in (INVALID_JSON, TOO_DEEP) or "twice" in body["detail"], body
        if case.status == 415:
            assert "application/json" in body["detail"], body
        if case.detail:
            assert case.detail in body["detail"], body
        allowed = {m.strip() for m in response.headers.get("Allow", "").split(",")}
        assert set(case.allow) <= allowed, f"Allow: {response.headers.get('Allow')!r}"
    assert stored.changes() == {}, f"{case.id} changed what is stored or sent"


def test_a_lone_surrogate_is_named_as_the_problem(
    app_client: AppClient, stored: StoredCounts
) -> None:
    response = app_client.post(
        ONE,
        data='{"input": "\\ud800", "output": "o", "rating": 0.5, "task_type": "t"}',
        headers={"Content-Type": JSON},
    )
    body = assert_problem(response, 422, ["input"])
    assert any(LONE_SURROGATE in message for message in body["errors"]["input"]), body
    assert stored.changes() == {}


def test_the_counts_see_every_kind_of_accepted_request(
    app_client: AppClient, stack: Stack, stored: StoredCounts
) -> None:
    one = app_client.post(ONE, json=interaction(task_type="counts-control"))
    assert one.status_code == 201, one.text[:300]
    assert stored.changes() == {"interactions": 1}
    answer = app_client.post(RESPOND, json={"input": "Will it rain in Oslo?"})
    assert answer.status_code == 200, answer.text[:300]
    assert stored.changes() == {"interactions": 1, "messages_sent": 1}
    created = app_client.post(JOBS, json=job())
    assert created.status_code == 202, created.text[:300]
    assert stored.changes() == {"interactions": 1, "messages_sent": 2, "jobs": 1}
    wait_for_job(app_client, stack, created.json()["id"], expect="failed")


def test_a_batch_with_one_bad_item_stores_none_of_it(
    app_client: AppClient, stored: StoredCounts
) -> None:
    marker = "batch-atomicity-check"
    items = [interaction(task_type=marker), interaction(rating=-1), interaction(task_type=marker)]
    response = app_client.post("/v1/interactions/batch", json={"items": items})
    body = assert_problem(response, 422, ["items[1].rating"])
    assert "items[0]" not in json.dumps(body) and "items[2]" not in body["detail"]
    assert stored.changes() == {}
    listed = app_client.get("/v1/interactions", params={"task_type": marker}).json()
    assert listed["data"] == []
    assert marker not in app_client.get("/v1/interactions/stats").json()["task_distribution"]


def test_the_largest_valid_text_and_batch_are_accepted(
    app_client: AppClient, stored: StoredCounts
) -> None:
    one = app_client.post("/v1/interactions", json=interaction(input="y" * 4000, output="z" * 4000))
    assert one.status_code == 201, one.text[:300]
    assert len(one.json()["input"]) == 4000
    items = [interaction(input=f"boundary {i}", task_type="boundary") for i in range(1000)]
    batch = app_client.post("/v1/interactions/batch", json={"items": items})
    assert batch.status_code == 201, batch.text[:300]
    assert batch.json()["count"] == 1000 and len(set(batch.json()["ids"])) == 1000
    assert stored.changes() == {"interactions": 1001}


def test_an_eval_set_of_10000_items_is_accepted(
    app_client: AppClient, stack: Stack, stored: StoredCounts
) -> None:
    eval_set = [{"input": f"q{i}", "expected_type": "t"} for i in range(10_000)]
    created = app_client.post("/v1/jobs", json=job(eval_set=eval_set))
    assert created.status_code == 202, created.text[:300]
    assert created.headers["Location"].endswith(f"/v1/jobs/{created.json()['id']}")
    assert created.json()["request"]["eval_set_size"] == 10_000
    assert "eval_set" not in created.json()["request"]
    assert stored.changes() == {"jobs": 1, "messages_sent": 1}
    wait_for_job(app_client, stack, created.json()["id"], expect="failed")
