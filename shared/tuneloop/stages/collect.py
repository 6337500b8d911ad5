"""Collect: turn stored interactions into training examples."""

from collections.abc import Iterable, Iterator

from tuneloop.agent.lab import SYNTHETIC_EXAMPLES

EXAMPLE_FIELDS = ("input", "output", "rating", "task_type")
# Kept when a row has them: a chat file's prompt turns, a preference file's rejected answer.
OPTIONAL_FIELDS = ("messages", "rejected")


def to_example(row: dict) -> dict:
    """Keep what training needs from an interaction record."""
    example = {k: row.get(k) for k in EXAMPLE_FIELDS}
    for key in OPTIONAL_FIELDS:  # a language model trains on the whole prompt, or on pairs
        if row.get(key) is not None:
            example[key] = row[key]
    example["source"] = row.get("source", "human")
    example["id"] = row.get("id")
    if row.get("scores"):  # named scores posted after the fact: name -> value
        example["scores"] = {s["name"]: s["value"] for s in row["scores"]}
    return example


def synthetic_examples() -> list[dict]:
    """Return the lab's synthetic examples as training examples."""
    return [
        {**ex, "source": "synthetic", "id": f"lab-synthetic-{i}"}
        for i, ex in enumerate(SYNTHETIC_EXAMPLES, start=1)
    ]


def collect(batches: Iterable[list[dict]], include_synthetic: bool) -> Iterator[list[dict]]:
    """Yield examples batch by batch, with the lab's synthetic ones first when asked."""
    if include_synthetic:
        yield synthetic_examples()
    for batch in batches:
        yield [to_example(r) for r in batch]
