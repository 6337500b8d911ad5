"""Chat-format training files: line-by-line validation, rows, labels; OpenAI's objects from ours."""

import json

import pytest

from tuneloop.schemas.chat_file import MAX_LINE_ERRORS, parse, trusted_rows
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.stages.collect import to_example
from tuneloop.stages.filter import QualityFilter
from tuneloop.stages.prepare import resolve
from tuneloop_gateway.compat.convert import checkpoints, openai_event, our_request
from tuneloop_gateway.compat.errors import first_param, openai_error


def line(user: object = "Where is my card?", answer: object = "It is on its way.", **extra) -> str:
    """One chat-format line."""
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": user},
        {"role": "assistant", "content": answer},
    ]
    return json.dumps({"messages": messages, **extra}, ensure_ascii=False)  # raw U+2028 stays


def test_a_line_becomes_the_last_user_message_and_the_final_answer_with_defaults() -> None:
    rows, bad, n_bad = parse((line() + "\n").encode())
    assert (bad, n_bad) == ([], 0)
    assert rows == [
        {
            "input": "Where is my card?",
            "output": "It is on its way.",
            "rating": 1.0,
            "task_type": None,
            "metadata": {},
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Where is my card?"},
            ],
        }
    ]


def test_text_parts_are_joined_and_rating_and_task_type_are_kept() -> None:
    parts = [{"type": "text", "text": "It ships "}, {"type": "text", "text": "today."}]
    text = line(answer=parts, rating=0.4, metadata={"task_type": "card_arrival", "src": "x"})
    [row] = parse(text.encode())[0]
    assert (row["output"], row["rating"], row["task_type"]) == (
        "It ships today.",
        0.4,
        "card_arrival",
    )
    assert trusted_rows(text.encode()) == [row]


def test_lines_end_only_at_newline_not_at_unicode_line_separators() -> None:
    text = line(user="first\u2028second")
    rows, bad, _ = parse(text.encode())
    assert bad == [] and rows[0]["input"] == "first\u2028second"
    assert trusted_rows(text.encode())[0]["input"] == "first\u2028second"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "is not a JSON object"),
        (
            line().replace('"messages"', '"rating": 1, "rating": 0.5, "messages"'),
            "the key 'rating' twice",
        ),
        (
            line().replace('"user"', '"user", "role": "user"'),
            "JSON object has the key 'role' twice",
        ),
        ("[" * 100_000 + "]" * 100_000, "JSON line is nested too deeply"),
        ('{"rating": 1' + "0" * 5000 + "}", "is not JSON we read: an integer has over 4300 digits"),
        (
            json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
            "messages: must be a list of 2 to 1000",
        ),
        (line(extra_field=1), "extra_field: unknown field"),
        (line(rating=1.5), "rating: must be a number from 0 to 1"),
        (
            line(metadata={"task_type": "tab\there"}),
            "metadata.task_type: 'tab\\there' is not a task type: it holds the control",
        ),
        (line(answer=None), "output (the assistant's answer): must be text"),
        (line(user="   "), "input (the last user message): must not be blank"),
        (
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": "hi"},
                        {"role": "assistant", "content": "yo"},
                        {"role": "user", "content": "and?"},
                    ]
                }
            ),
            "the last message must be the assistant's",
        ),
        (json.dumps({"messages": [{"role": "system", "content": "s"}] * 2}), "the assistant's"),
        (line(rating=True), "rating: must be a number"),
        (line(metadata={"task_type": 7}), "metadata.task_type: must be a string"),
        (line(metadata=[1]), "metadata: must be an object"),
        (
            line(answer=[{"type": "image_url", "image_url": {}}]),
            "messages[2].content[0]: only text",
        ),
        (line(answer=7), "messages[2].content: must be a string"),
        (json.dumps({"messages": [{"role": "robot", "content": "x"}] * 2}), "messages[0].role"),
        (line(user="a\x07b"), "input (the last user message): must not contain control"),
        (
            json.dumps(
                {
                    "messages": [
                        {"role": "system", "content": "s"},
                        {"role": "assistant", "content": "a"},
                    ]
                }
            ),
            "needs a user message",
        ),
    ],
)
def test_a_bad_line_is_named_by_its_number_and_what_is_wrong(text: str, problem: str) -> None:
    content = f"{line()}\n\n{text}\n{line()}\n".encode()
    rows, bad, n_bad = parse(content)
    assert n_bad == 1 and len(rows) == 2
    [(number, message)] = bad
    assert number == 3 and problem in message, message


def test_bad_utf8_and_an_empty_file_are_refused() -> None:
    assert parse(line().encode() + b"\n\xff\xfe\n")[1] == [(2, "is not valid UTF-8")]
    assert parse(b"\n  \n")[1] == [(1, "the file holds no lines")]


def test_only_the_first_bad_lines_are_listed_but_all_are_counted() -> None:
    content = "\n".join(["{bad"] * (MAX_LINE_ERRORS + 5)).encode()
    _, bad, n_bad = parse(content)
    assert len(bad) == MAX_LINE_ERRORS and n_bad == MAX_LINE_ERRORS + 5
    assert [n for n, _ in bad] == list(range(1, MAX_LINE_ERRORS + 1))


def test_rows_without_a_task_type_are_dropped_as_no_task_type_and_others_keep_theirs() -> None:
    content = "\n".join(
        [
            line("Will it rain in Oslo?"),
            line("Book a flight to Lima"),
            line(metadata={"task_type": "mine"}),
        ]
    )
    rows = trusted_rows(content.encode())
    assert [r["task_type"] for r in rows] == [None, None, "mine"]  # never the baseline's guess
    rules = QualityFilter(min_score=0.8)
    assert rules.judge([to_example(r) for r in rows]) == [False, False, True]
    assert rules.dropped == {"no_task_type": 2}


def test_the_learning_rate_multiplier_scales_only_the_auto_step_size() -> None:
    base = resolve({"batch_size": 32}, 1000)["learning_rate"]
    scaled = resolve({"batch_size": 32, "learning_rate_multiplier": 2.5}, 1000)["learning_rate"]
    assert scaled == pytest.approx(2.5 * base)
    given = {"batch_size": 32, "learning_rate": 0.7, "learning_rate_multiplier": 2.5}
    assert resolve(given, 1000)["learning_rate"] == 0.7


def test_an_openai_request_without_a_validation_file_holds_out_a_fifth_to_evaluate_on() -> None:
    body = {"hyperparameters": {"n_epochs": 4, "learning_rate_multiplier": "auto"}, "seed": 3}
    request = JobInSchema().load(our_request(body, None))
    assert request["holdout_fraction"] == 0.2 and "eval_set" not in request
    assert request["holdout_per_task"] is True and request["lab_eval_set"] is False
    request = our_request(body, None)
    assert request["hyperparameters"] == {"n_epochs": 4, "seed": 3}
    assert request["include_synthetic"] is False
    nested = {
        "method": {"type": "supervised", "supervised": {"hyperparameters": {"batch_size": 8}}}
    }
    cases = [{"input": "a", "expected_type": "t", "reference_output": "b"}]
    request = our_request(nested, cases)
    assert request["hyperparameters"] == {"batch_size": 8} and request["eval_set"] == cases
    assert "holdout_fraction" not in JobInSchema().load(request)


def test_epoch_events_are_metrics_and_warnings_are_warn() -> None:
    ours = {"id": "1-0", "created_at": 5, "level": "warning", "type": "metrics", "message": "m"}
    event = openai_event({**ours, "data": {"epoch": 1, "train_loss": 0.5}})
    assert (event["type"], event["level"], event["data"]["epoch"]) == ("metrics", "warn", 1)
    assert openai_event({**ours, "type": "stage.started", "level": "info"})["type"] == "message"


def test_the_kept_checkpoint_is_the_best_epochs_with_its_losses_and_steps() -> None:
    job = {
        "id": "ftjob-abc",
        "status": "succeeded",
        "finished_at": 9,
        "model_id": "ft-abc",
        "result": {
            "epochs": [
                {"epoch": 1, "train_loss": 0.9, "valid_loss": 0.8},
                {"epoch": 2, "train_loss": 0.5, "valid_loss": 0.4},
                {"epoch": 3, "train_loss": 0.3, "valid_loss": 0.6},
            ],
            "best_epoch": 2,
            "training_data": {"total_examples": 100},
            "hyperparameters": {"batch_size": 32},
        },
    }
    [checkpoint] = checkpoints(job)
    assert checkpoint["step_number"] == 2 * 4  # ceil(100 / 32) steps an epoch
    assert checkpoint["metrics"] == {"step": 8.0, "train_loss": 0.5, "valid_loss": 0.4}
    assert checkpoint["fine_tuned_model_checkpoint"] == "ft-abc"
    assert checkpoints({**job, "status": "running"}) == []


def test_problems_become_openai_errors_naming_the_first_field() -> None:
    problem = {"detail": "invalid fields: hyperparameters.n_epochs", "errors": {}}
    problem["errors"] = {"hyperparameters": {"n_epochs": ["too small"]}}
    error = openai_error(422, problem)["error"]
    assert error == {
        "message": "invalid fields: hyperparameters.n_epochs; hyperparameters.n_epochs: too small",
        "type": "invalid_request_error",
        "param": "hyperparameters.n_epochs",
        "code": None,
    }
    assert openai_error(404, {"detail": "no job"})["error"]["code"] == "not_found"
    assert openai_error(503, {"detail": "later"})["error"]["type"] == "server_error"
    assert first_param({"items": {"3": {"rating": ["bad"]}}}) == "items[3].rating"
    assert first_param({"body": ["bad"]}) is None
    assert (
        openai_error(400, {"detail": "bad JSON", "errors": {"body": ["bad"]}})["error"]["message"]
        == "bad JSON"
    )
    lines = {
        "detail": "1 bad line: line 2: is not JSON",
        "errors": {"file": ["line 2: is not JSON"]},
    }
    assert openai_error(400, lines)["error"]["message"] == lines["detail"]


def test_file_lines_and_request_bodies_are_decoded_by_the_one_shared_decoder() -> None:
    from tuneloop import strict_json
    from tuneloop.schemas import chat_file
    from tuneloop_gateway import blueprint, checks

    assert chat_file.strict_loads is checks.strict_loads  # the parser's and the lane's decoder
    assert checks.strict_loads is strict_json.strict_loads
    assert blueprint.DuplicateKeyError is strict_json.DuplicateKeyError
