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
    """Split each task type's examples by the same seed; every task keeps one for training."""
    by_task: dict[str, list[dict]] = {}
    for ex in examples:
        by_task.setdefault(ex["task_type"], []).append(ex)
    train, validation = [], []
    for task in sorted(by_task):
        rows = sorted(by_task[task], key=lambda r: (normalize(r["input"]), r["output"]))
        random.Random(f"{seed}:{task}").shuffle(rows)
        n_val = min(round(len(rows) * validation_fraction), len(rows) - 1)
        validation += rows[:n_val]
        train += rows[n_val:]
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
