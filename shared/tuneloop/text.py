"""Text helpers shared by the agents and the stages: normalisation, tokens, token F1."""

import re
from collections import Counter

_TOKEN = re.compile(r"[a-z0-9']+")


def normalize(text: str) -> str:
    """Return text case-folded with runs of whitespace collapsed, for duplicate checks."""
    return " ".join(text.casefold().split())


def tokens(text: str) -> list[str]:
    """Return the lower-case word tokens of text."""
    return _TOKEN.findall(text.lower())


def token_f1(candidate: str, reference: str) -> float:
    """Return the unigram F1 overlap of candidate and reference (SQuAD-style)."""
    cand, ref = Counter(tokens(candidate)), Counter(tokens(reference))
    common = sum((cand & ref).values())
    if common == 0:
        return 0.0
    precision = common / sum(cand.values())
    recall = common / sum(ref.values())
    return 2 * precision * recall / (precision + recall)
