"""OpenAI preference files (DPO) read line by line, and the method object of a job request."""

import json

import pytest
from marshmallow import ValidationError

from tuneloop.job_request import JobRequest
from tuneloop.schemas.chat_file import parse, trusted_rows
from tuneloop.schemas.jobs import JobInSchema


def pref(user: str = "Hi", good: str = "Hello!", bad: str | None = "Go away.", **extra) -> str:
    """One preference line."""
    line: dict = {
        "input": {
            "messages": [
                {"role": "system", "content": "Be kind."},
                {"role": "user", "content": user},
            ]
        },
        "preferred_output": [{"role": "assistant", "content": good}],
        **extra,
    }
    if bad is not None:
        line["non_preferred_output"] = [{"role": "assistant", "content": bad}]
    return json.dumps(line)


def chat(user: str = "Hi", answer: str = "Hello") -> str:
    """One chat line."""
    return json.dumps(
        {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}
    )


def test_a_preference_line_becomes_a_row_with_the_preferred_output_and_the_rejected_one() -> None:
    content = (pref() + "\n" + pref("Bye", "Goodbye!", "Whatever.") + "\n").encode()
    rows, bad, n_bad = parse(content)
    assert (bad, n_bad) == ([], 0)
    assert rows[0] == {
        "input": "Hi",
        "output": "Hello!",
        "rejected": "Go away.",
        "messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}],
        "rating": None,
        "task_type": None,
        "metadata": {},
    }
    assert trusted_rows(content) == rows


def test_a_preference_line_without_non_preferred_output_is_refused_naming_line_and_field() -> None:
    _, bad, n_bad = parse((pref() + "\n" + pref(bad=None) + "\n").encode())
    assert n_bad == 1
    assert bad == [(2, "non_preferred_output: is missing")]


def test_a_preference_line_with_an_unknown_field_is_refused() -> None:
    _, bad, _ = parse(pref(rating=0.5).encode())
    assert bad == [(1, "rating: unknown field")]


def test_a_blank_rejected_answer_is_refused() -> None:
    _, bad, _ = parse(pref(bad="   ").encode())
    assert bad and bad[0][0] == 1 and bad[0][1].startswith("non_preferred_output[0].content")


@pytest.mark.parametrize(
    ("lines", "line", "first"), [([chat(), pref()], 2, 1), ([pref(), pref(), chat()], 3, 1)]
)
def test_a_file_mixing_chat_and_preference_lines_is_refused(
    lines: list[str], line: int, first: int
) -> None:
    _, bad, n_bad = parse("\n".join(lines).encode())
    assert n_bad == 1 and bad[0][0] == line
    assert f"line {first} is a" in bad[0][1] and "not both" in bad[0][1]


def test_chat_rows_keep_the_turns_before_the_answer() -> None:
    [row] = parse(chat().encode())[0]
    assert row["messages"] == [{"role": "user", "content": "Hi"}] and "rejected" not in row


# --- the method object on /v1/jobs ----------------------------------------------------------


def test_a_job_without_method_is_supervised() -> None:
    assert JobInSchema().load({})["method"] == "supervised"


def test_the_method_objects_hyperparameters_become_the_jobs() -> None:
    body = {
        "method": {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 2, "beta": 0.2}}},
        "min_gap": 0.3,
    }
    request = JobInSchema().load(body)
    assert request["method"] == "dpo" and request["min_gap"] == 0.3
    hyper = request["hyperparameters"]
    assert (hyper["n_epochs"], hyper["beta"], hyper["batch_size"]) == (2, 0.2, "auto")


def test_dpo_without_hyperparameters_has_an_auto_beta() -> None:
    request = JobInSchema().load({"method": {"type": "dpo"}})
    assert request["hyperparameters"]["beta"] == "auto"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": {"type": "kto"}}, "method"),
        ({"method": {"type": "supervised", "dpo": {}}}, "method"),
        (
            {"method": {"type": "supervised", "supervised": {"hyperparameters": {"beta": 0.1}}}},
            "method",
        ),
        ({"hyperparameters": {"beta": 0.1}}, "hyperparameters"),
        ({"min_gap": 0.2}, "min_gap"),
        ({"method": {"type": "dpo"}, "min_gap": 1.5}, "min_gap"),
        ({"method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": "big"}}}}, "method"),
        (
            {"method": {"type": "dpo", "dpo": {"hyperparameters": {}}}, "hyperparameters": {}},
            "hyperparameters",
        ),
    ],
)
def test_a_bad_method_is_refused_naming_the_field(body: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        JobInSchema().load(body)
    assert field in caught.value.messages, caught.value.messages


def test_the_stored_request_gives_the_stages_its_method_and_min_gap() -> None:
    body = {"model": "tiny", "method": {"type": "dpo"}, "min_gap": 0.25}
    request = JobRequest.from_stored(JobInSchema().load(body))
    assert (request.method, request.min_gap) == ("dpo", 0.25)
    older = JobRequest.from_stored({"min_score": 0.8})  # stored before the fields existed
    assert (older.method, older.min_gap) == ("supervised", 0.5)
