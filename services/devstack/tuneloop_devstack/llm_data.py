"""A support desk's chat data for language-model jobs: real Banking77 questions, our replies.

The questions are Banking77's (CC BY 4.0; four intents, in tests/fixtures/banking77-4). Each
intent gets one reply a support agent would give; a preference pair sets that reply against
the reply of another intent. Used by `make demo-llm`, the language-model tests and benchmark.
"""

import csv
import json
from collections.abc import Iterator
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "banking77-4" / "train.csv"
SYSTEM = "You are the support agent of a bank. Answer in one sentence."
REPLIES = {
    "card_arrival": "Cards arrive within five working days; I can track yours or send a new one.",
    "exchange_rate": "We convert at the interbank rate of the moment, plus 0.5% at weekends.",
    "pin_blocked": "Three wrong tries block the PIN; unblock it in the app under Card, then PIN.",
    "top_up_failed": "A failed top-up is refunded within three days; try another card meanwhile.",
}
WRONG = dict(zip(REPLIES, list(REPLIES)[1:] + list(REPLIES)[:1], strict=True))  # intent -> other


def questions(per_intent: int, path: Path = FIXTURE) -> list[tuple[str, str]]:
    """Return up to per_intent (question, intent) pairs of each intent, in file order."""
    taken: dict[str, int] = {}
    out = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            intent, text = row["category"], " ".join(row["text"].split())
            if taken.get(intent, 0) < per_intent and text:
                taken[intent] = taken.get(intent, 0) + 1
                out.append((text, intent))
    return out


def prompt(question: str) -> list[dict]:
    """Return the prompt messages of one question."""
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


def chat_lines(per_intent: int) -> Iterator[str]:
    """Yield OpenAI chat-format lines: each question with its intent's reply."""
    for question, intent in questions(per_intent):
        answer = {"role": "assistant", "content": REPLIES[intent]}
        yield json.dumps({"messages": [*prompt(question), answer]})


def preference_lines(per_intent: int) -> Iterator[str]:
    """Yield OpenAI preference-format lines: the right reply over another intent's."""
    for question, intent in questions(per_intent):
        yield json.dumps(
            {
                "input": {"messages": prompt(question)},
                "preferred_output": [{"role": "assistant", "content": REPLIES[intent]}],
                "non_preferred_output": [{"role": "assistant", "content": REPLIES[WRONG[intent]]}],
            }
        )


def rated_interactions(per_intent: int) -> list[dict]:
    """Return interactions to post: each question with the right reply (rated 1.0) and a
    wrong one (rated 0.0), so pairs can be built from ratings."""
    items = []
    for question, intent in questions(per_intent):
        items.append(
            {"input": question, "output": REPLIES[intent], "rating": 1.0, "task_type": intent}
        )
        items.append(
            {
                "input": question,
                "output": REPLIES[WRONG[intent]],
                "rating": 0.0,
                "task_type": intent,
            }
        )
    return items


def texts(per_intent: int) -> list[str]:
    """Return every text a tokenizer for this data should know."""
    return [SYSTEM, *REPLIES.values(), *(q for q, _ in questions(per_intent))]
