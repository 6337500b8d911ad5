"""Training examples and preference pairs from collected rows, in TRL's conversational shapes.

A row is a collected dict: `input` (the last user message), `output`, `rating` (0-1 or None),
optionally `messages` (the prompt turns before the answer) and `rejected` (the
non-preferred answer of a preference file's line). No heavy imports: the gateway uses it.
"""

from collections.abc import Iterable

from tuneloop.text import normalize

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
OUTPUTS = ("preferred_output", "non_preferred_output")


def prompt_of(row: dict) -> list[dict]:
    """Return the prompt messages of a row: its `messages`, else its input as one user turn."""
    messages = row.get("messages")
    if messages:
        return [{"role": m["role"], "content": m["content"]} for m in messages]
    return [{"role": "user", "content": row["input"]}]


def _answer(text: str) -> list[dict]:
    """One assistant turn."""
    return [{"role": "assistant", "content": text}]


def sft_examples(rows: Iterable[dict]) -> list[dict]:
    """Return prompt-completion examples: the prompt, then the row's output as the answer."""
    return [{"prompt": prompt_of(r), "completion": _answer(r["output"])} for r in rows]


def _pair(prompt: list[dict], chosen: str, rejected: str) -> dict:
    """One preference pair."""
    return {"prompt": prompt, "chosen": _answer(chosen), "rejected": _answer(rejected)}


def pairs_from_preference_rows(rows: Iterable[dict]) -> list[dict]:
    """Return the pairs of rows read from a preference file (those with a `rejected` answer)."""
    return [_pair(prompt_of(r), r["output"], r["rejected"]) for r in rows if r.get("rejected")]


def prompt_key(prompt: list[dict]) -> tuple:
    """The prompt, normalised: roles with case-folded, whitespace-collapsed contents."""
    return tuple((m["role"], normalize(m["content"] or "")) for m in prompt)


def pairs_from_ratings(rows: Iterable[dict], min_gap: float) -> list[dict]:
    """Return per prompt its best-rated output against its worst-rated, when the ratings
    differ by at least min_gap; prompts in order of first appearance, ties to the first row."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        if row.get("rating") is not None:
            groups.setdefault(prompt_key(prompt_of(row)), []).append(row)
    pairs = []
    for group in groups.values():
        best = max(group, key=lambda r: r["rating"])  # max/min keep the first of equals
        worst = min(group, key=lambda r: r["rating"])
        gap = best["rating"] - worst["rating"]
        if best is not worst and gap >= min_gap and best["output"] != worst["output"]:
            pairs.append(_pair(prompt_of(best), best["output"], worst["output"]))
    return pairs


def _one_answer(name: str, value: object) -> str | None:
    """What is wrong with one output field: a list of one assistant message of string content."""
    if value is None:
        return f"{name}: is missing"
    if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict)):
        return f"{name}: must be a list of one assistant message"
    if value[0].get("role") != "assistant":
        return f"{name}[0].role: must be 'assistant'"
    content = value[0].get("content")
    if not isinstance(content, str) or not content.strip():
        return f"{name}[0].content: must be non-empty text"
    return None


def _messages_problem(messages: object) -> str | None:
    """What is wrong with input.messages: messages with a role and text, a user one among them."""
    if not isinstance(messages, list) or not messages:
        return "input.messages: must be a non-empty list of messages"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            return f"input.messages[{i}].role: must be one of {', '.join(sorted(ROLES))}"
        if not isinstance(m.get("content"), str):
            return f"input.messages[{i}].content: must be a string"
    if not any(m["role"] == "user" and m["content"].strip() for m in messages):
        return "input.messages: needs a user message with text"
    return None


def check_preference_line(obj: object) -> str | None:
    """Return what is wrong with one OpenAI preference line (field path: problem), or None."""
    if not isinstance(obj, dict):
        return "is not a JSON object"
    source = obj.get("input")
    if not isinstance(source, dict):
        return "input: must be an object with messages"
    problem = _messages_problem(source.get("messages"))
    for name in OUTPUTS:
        problem = problem or _one_answer(name, obj.get(name))
    return problem
