"""Training examples and preference pairs from collected rows (tuneloop.llm.rows)."""

import pytest

from tuneloop.llm.rows import (
    check_preference_line,
    pairs_from_preference_rows,
    pairs_from_ratings,
    prompt_of,
    sft_examples,
)

SYSTEM = {"role": "system", "content": "Be brief."}


def row(inp: str, out: str, rating: float | None = 1.0, **extra: object) -> dict:
    """A collected row."""
    return {"input": inp, "output": out, "rating": rating, "task_type": None, **extra}


def test_prompt_of_a_row_without_messages_is_its_input_as_one_user_turn() -> None:
    assert prompt_of(row("hi", "hello")) == [{"role": "user", "content": "hi"}]


def test_prompt_of_a_chat_row_is_its_whole_conversation_before_the_answer() -> None:
    messages = [SYSTEM, {"role": "user", "content": "hi", "name": "x"}]
    assert prompt_of(row("hi", "hello", messages=messages)) == [
        SYSTEM,
        {"role": "user", "content": "hi"},
    ]


def test_sft_examples_are_prompt_completion_pairs() -> None:
    assert sft_examples([row("a?", "A.")]) == [
        {
            "prompt": [{"role": "user", "content": "a?"}],
            "completion": [{"role": "assistant", "content": "A."}],
        }
    ]


def test_pairs_from_preference_rows_take_output_as_chosen_and_rejected_as_rejected() -> None:
    rows = [
        row("q", "good", None, rejected="bad", messages=[SYSTEM, {"role": "user", "content": "q"}]),
        row("plain", "x"),
    ]
    assert pairs_from_preference_rows(rows) == [
        {
            "prompt": [SYSTEM, {"role": "user", "content": "q"}],
            "chosen": [{"role": "assistant", "content": "good"}],
            "rejected": [{"role": "assistant", "content": "bad"}],
        }
    ]


def test_pairs_from_ratings_pair_the_best_and_worst_answers_of_a_normalised_prompt() -> None:
    rows = [
        row("What is 2+2?", "five", 0.1),
        row("other", "x", 0.9),
        row("what  is 2+2?", "four", 0.95),
        row("WHAT IS 2+2?", "4ish", 0.5),
        row("other", "y", 0.2),
    ]
    pairs = pairs_from_ratings(rows, min_gap=0.5)
    assert [(p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in pairs] == [
        ("four", "five"),
        ("x", "y"),
    ]
    assert pairs[0]["prompt"] == [{"role": "user", "content": "what  is 2+2?"}]


def test_pairs_from_ratings_drop_prompts_whose_ratings_differ_by_less_than_min_gap() -> None:
    rows = [row("q", "a", 0.9), row("q", "b", 0.5), row("lone", "c", 1.0), row("n", "d", None)]
    assert pairs_from_ratings(rows, min_gap=0.41) == []
    assert len(pairs_from_ratings(rows, min_gap=0.4)) == 1


def test_pairs_from_ratings_never_pair_an_answer_with_itself() -> None:
    rows = [row("q", "same", 0.9), row("q", "same", 0.1), row("r", "one", 0.5)]
    assert pairs_from_ratings(rows, min_gap=0.0) == []


GOOD = {
    "input": {"messages": [{"role": "user", "content": "Hi"}]},
    "preferred_output": [{"role": "assistant", "content": "Hello!"}],
    "non_preferred_output": [{"role": "assistant", "content": "Go away."}],
}


def test_a_good_preference_line_has_no_problem() -> None:
    assert check_preference_line(GOOD) is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"non_preferred_output": None}, "non_preferred_output: is missing"),
        ({"preferred_output": "Hello"}, "preferred_output: must be a list"),
        ({"preferred_output": [{"role": "user", "content": "x"}]}, "preferred_output[0].role"),
        (
            {"non_preferred_output": [{"role": "assistant", "content": " "}]},
            "non_preferred_output[0].content",
        ),
        ({"input": {"messages": []}}, "input.messages: must be a non-empty list"),
        (
            {"input": {"messages": [{"role": "system", "content": "s"}]}},
            "input.messages: needs a user",
        ),
        ({"input": {"messages": [{"role": "user", "content": 3}]}}, "input.messages[0].content"),
        ({"input": "Hi"}, "input: must be an object"),
    ],
)
def test_a_bad_preference_line_is_named_by_its_field(change: dict, field: str) -> None:
    line = {**GOOD, **change}
    line = {k: v for k, v in line.items() if v is not None}
    problem = check_preference_line(line)
    assert problem is not None and problem.startswith(field), problem


def test_a_preference_line_that_is_not_an_object_is_refused() -> None:
    assert check_preference_line([GOOD]) == "is not a JSON object"
