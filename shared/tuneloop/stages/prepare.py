"""Prepare: a deterministic, stratified train / validation split and its summary."""

import json
import random
from collections import Counter
from collections.abc import Sequence

from tuneloop.stages.text import normalize

DEFAULT_VALIDATION_FRACTION = 0.2


def split(
    examples: Sequence[dict], validation_fraction: float, seed: int
) -> tuple[list[dict], list[dict]]:
    """Split by input, stratified by task type; an input never lands on both sides.

    Rows with the same normalized input form one group, even across task types; a group
    belongs to the stratum of its most common task type, and every stratum keeps at least one
    group for training.
    """
    groups: dict[str, list[dict]] = {}
    for ex in examples:
        groups.setdefault(normalize(ex["input"]), []).append(ex)
    strata: dict[str, list[str]] = {}
    for key, rows in groups.items():
        counts = Counter(r["task_type"] for r in rows)
        label = min(counts, key=lambda task: (-counts[task], task))
        strata.setdefault(label, []).append(key)
    train, validation = [], []
    for task in sorted(strata):
        inputs = sorted(strata[task])
        random.Random(f"{seed}:{task}").shuffle(inputs)
        n_val = min(round(len(inputs) * validation_fraction), len(inputs) - 1)
        for i, key in enumerate(inputs):
            rows = sorted(groups[key], key=lambda r: (r["task_type"], r["output"]))
            (validation if i < n_val else train).extend(rows)
    return train, validation


def summarize(train: Sequence[dict], validation: Sequence[dict], dropped: dict) -> dict:
    """Describe the training data as the job result reports it."""
    return {
        "total_examples": len(train),
        "task_distribution": dict(sorted(Counter(r["task_type"] for r in train).items())),
        "validation_examples": len(validation),
        "validation_distribution": dict(
            sorted(Counter(r["task_type"] for r in validation).items())
        ),
        "dropped": dict(sorted(dropped.items())),
    }


def to_chat_jsonl(examples: Sequence[dict]) -> str:
    """Render examples as chat-format JSONL, one conversation per line."""
    lines = []
    for ex in examples:
        messages = [
            {"role": "user", "content": ex["input"]},
            {"role": "assistant", "content": ex["output"]},
        ]
        lines.append(json.dumps({"messages": messages}, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")
