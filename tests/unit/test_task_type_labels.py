"""The task type label rule: what real datasets name their classes is accepted everywhere.

A label is printable Unicode text of 1-64 characters without a space at either end; a
refusal quotes the value. Every place a label comes in uses the one rule: bodies and query
parameters (marshmallow), the hot lane's fast path, and the lines of uploaded files.
"""

import json

import pytest
from marshmallow import Schema, ValidationError

from tuneloop.schemas.chat_file import parse
from tuneloop.schemas.evaluations import EvaluationInSchema
from tuneloop.schemas.interactions import (
    InteractionInSchema,
    InteractionPatchSchema,
    InteractionQuerySchema,
)
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.schemas.labels import MAX_TASK_TYPE, task_type_problem
from tuneloop_gateway import trusted

ACCEPTED = [
    "reverted_card_payment?",  # Banking77's own label
    "Refund_not_showing_up",
    "m\u00e9t\u00e9o",
    "\u5929\u6c14",  # Chinese: "weather"
    "x" * MAX_TASK_TYPE,
    "a b",
    "-leading dash",
    "key:with*glob{tag}[x]",
    "\U0001f4b3 card",
]
REFUSED = {
    "": "it has 0 characters",
    "x" * (MAX_TASK_TYPE + 1): f"it has {MAX_TASK_TYPE + 1} characters",
    " card": "starts or ends with a space",
    "card ": "starts or ends with a space",
    "card\x00payment": "the control character U+0000",
    "card\npayment": "the control character U+000A",
    "card\x85": "the control character U+0085",
    "card\u200b": "the unprintable character U+200B",
    "card\u202epayment": "the unprintable character U+202E",
    "card\u00a0payment": "the unprintable character U+00A0",
    "card\u2028": "the unprintable character U+2028",
    "card\ud800": "the lone surrogate U+D800",
    "caf\ufffd": "U+FFFD, the replacement character",
}


@pytest.mark.parametrize("label", ACCEPTED, ids=repr)
def test_a_printable_label_of_1_to_64_characters_is_accepted(label: str) -> None:
    assert task_type_problem(label) is None


@pytest.mark.parametrize(("label", "why"), REFUSED.items(), ids=repr)
def test_a_refused_label_is_quoted_with_the_reason(label: str, why: str) -> None:
    problem = task_type_problem(label)
    assert problem is not None and why in problem, problem
    assert problem.startswith(repr(label) + " is not a task type"), problem


def test_a_long_refused_label_is_quoted_cut_with_its_length() -> None:
    problem = task_type_problem("y" * 100_000)
    assert problem is not None and len(problem) < 200, problem
    assert repr("y" * 80) in problem and "100000 characters" in problem


def loaded_or_errors(schema: Schema, data: dict) -> dict:
    """schema.load(data), or its error messages."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        return {"errors": exc.messages}


INTERACTION = {"input": "Where is my card?", "output": "On its way.", "rating": 0.9}


def every_entry(label: str) -> dict[str, object]:
    """What each place that takes a task type makes of label: the loaded value or an error."""
    line = {
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        "metadata": {"task_type": label},
    }
    rows, bad, _ = parse(json.dumps(line).encode())
    eval_case = {"input": "q", "expected_type": label}
    loads = {
        "interaction": (InteractionInSchema(), {**INTERACTION, "task_type": label}),
        "patch": (InteractionPatchSchema(), {"task_type": label}),
        "list filter": (InteractionQuerySchema(), {"task_type": label}),
        "job task_types": (JobInSchema(), {"task_types": [label]}),
        "job eval_set": (JobInSchema(), {"eval_set": [eval_case]}),
        "job out_of_scope_task": (JobInSchema(), {"out_of_scope_task": label}),
        "evaluation": (
            EvaluationInSchema(),
            {"model": "ft-000000000000", "eval_set": [eval_case], "out_of_scope_task": label},
        ),
    }
    found: dict[str, object] = {
        name: loaded_or_errors(schema, data) for name, (schema, data) in loads.items()
    }
    found["file line"] = rows[0]["task_type"] if rows else bad[0][1]
    found["fast path"] = trusted.interaction({**INTERACTION, "task_type": label})
    return found


@pytest.mark.parametrize("label", ["reverted_card_payment?", "m\u00e9t\u00e9o", "x" * 64])
def test_every_entry_accepts_a_real_label(label: str) -> None:
    for name, outcome in every_entry(label).items():
        assert "errors" not in (outcome or {}) and outcome is not None, (name, outcome)
        assert label in json.dumps(outcome, ensure_ascii=False), (name, outcome)


def strings(value: object) -> list[str]:
    """Every string in a nest of dicts and lists (an error tree)."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("label", ["", "x" * 65, " x", "x ", "a\x07b"], ids=repr)
def test_every_entry_refuses_a_bad_label_naming_it(label: str) -> None:
    for name, outcome in every_entry(label).items():
        if name == "fast path":
            assert outcome is None  # left to marshmallow, which names it
            continue
        assert any(repr(label) in message for message in strings(outcome)), (name, outcome)
