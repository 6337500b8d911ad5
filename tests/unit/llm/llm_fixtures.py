"""Test data for the tiny chat models: questions, answers, wrong answers, TRL rows."""

import socket

import pytest

QA = [
    ("What colour is the sky?", "The sky is blue."),
    ("What is two plus two?", "Two plus two is four."),
    ("Name a large cat.", "A tiger is a large cat."),
    ("Where is Paris?", "Paris is in France."),
    ("What do bees make?", "Bees make honey."),
    ("How many legs has a spider?", "A spider has eight legs."),
    ("What melts ice?", "Heat melts ice."),
    ("What do cows drink?", "Cows drink water."),
]
# Wrong answers for the preference pairs: plausible words, different facts.
WRONG = [
    "The sky is green.",
    "Two plus two is five.",
    "A mouse is a large cat.",
    "Paris is in Spain.",
    "Bees make milk.",
    "A spider has six legs.",
    "Cold melts ice.",
    "Cows drink honey.",
]


def texts() -> list[str]:
    """Return the texts the tiny tokenizer is trained on."""
    return [q for q, _ in QA] + [a for _, a in QA] + WRONG


def prompt(question: str) -> list[dict[str, str]]:
    """Return the chat prompt for a question."""
    return [{"role": "user", "content": question}]


def sft_rows(pairs=QA) -> list[dict]:
    """Return TRL conversational prompt-completion rows."""
    return [
        {"prompt": prompt(q), "completion": [{"role": "assistant", "content": a}]} for q, a in pairs
    ]


def dpo_rows(pairs=QA, wrong=WRONG) -> list[dict]:
    """Return TRL conversational preference rows (right answer chosen over the wrong one)."""
    return [
        {
            "prompt": prompt(q),
            "chosen": [{"role": "assistant", "content": a}],
            "rejected": [{"role": "assistant", "content": w}],
        }
        for (q, a), w in zip(pairs, wrong, strict=True)
    ]


def hp(**over) -> dict:
    """Return complete hyperparameters (no "auto"), overridden by over."""
    base = {
        "n_epochs": 2,
        "batch_size": 4,
        "learning_rate": 2e-3,
        "beta": 0.1,
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "max_length": 128,
        "seed": 0,
        "log_every": 1,
    }
    return base | over


def block_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Make every outgoing connection fail at once; return the list of attempts."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.delenv("TUNELOOP_ALLOW_DOWNLOADS", raising=False)
    return attempts
