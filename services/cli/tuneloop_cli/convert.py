"""Training data in other shapes: prompt-completion lines and DPO pairs (pure functions)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


def prompt_completion(line: str) -> str:
    """Turn one chat-format line ({"messages": [user, assistant]}) into {prompt, completion}."""
    messages = json.loads(line)["messages"]
    prompt = "\n".join(m["content"] for m in messages if m["role"] == "user")
    completion = "\n".join(m["content"] for m in messages if m["role"] == "assistant")
    return json.dumps({"prompt": prompt, "completion": completion}, ensure_ascii=False) + "\n"


def same_input(text: str) -> str:
    """The key under which two inputs count as the same: case and spacing ignored."""
    return " ".join(text.split()).casefold()


@dataclass
class Outputs:
    """Every distinct output to one input, with its ratings."""

    prompt: str
    ratings: dict[str, list[float]] = field(default_factory=dict)

    def add(self, output: str, rating: float) -> None:
        """Record one rated output."""
        self.ratings.setdefault(output, []).append(rating)

    def means(self) -> list[tuple[float, str]]:
        """Each output's mean rating, best first (ties by text, for a stable order)."""
        pairs = [(sum(r) / len(r), output) for output, r in self.ratings.items()]
        return sorted(pairs, key=lambda pair: (-pair[0], pair[1]))


def group_by_input(interactions: Iterable[dict]) -> dict[str, Outputs]:
    """Group rated interactions by their input."""
    groups: dict[str, Outputs] = {}
    for item in interactions:
        key = same_input(item["input"])
        groups.setdefault(key, Outputs(item["input"])).add(item["output"], item["rating"])
    return groups


def dpo_pairs(interactions: Iterable[dict], min_chosen: float, min_margin: float) -> Iterator[dict]:
    """Pair, per input, its best-rated output with its worst-rated one (see pairs_of)."""
    return pairs_of(group_by_input(interactions), min_chosen, min_margin)


def pairs_of(groups: dict[str, Outputs], min_chosen: float, min_margin: float) -> Iterator[dict]:
    """Pair, per input, its best-rated output with its worst-rated one.

    An output's rating is the mean of its ratings. The chosen output must be rated at least
    min_chosen (the job's min_score: an answer the job would train on) and the rejected one
    more than min_margin lower; inputs with a single distinct output give no pair.
    """
    for outputs in groups.values():
        ranked = outputs.means()
        if len(ranked) < 2:
            continue
        (best, chosen), (worst, rejected) = ranked[0], ranked[-1]
        if best >= min_chosen and best - worst > min_margin:
            yield {"prompt": outputs.prompt, "chosen": chosen, "rejected": rejected}


def no_pairs_reason(groups: dict[str, Outputs], min_chosen: float, min_margin: float) -> str:
    """Why the groups give no DPO pair: the first condition no input meets, with counts."""
    rated = sum(len(r) for g in groups.values() for r in g.ratings.values())
    seen = f"{rated:,} interactions, {len(groups):,} distinct inputs"
    ranked = [g.means() for g in groups.values()]
    several = [r for r in ranked if len(r) >= 2]
    if not several:
        return f"{seen}: no input has two different outputs"
    differ = [r for r in several if r[0][0] > r[-1][0]]
    if not differ:
        return (
            f"{seen}; {len(several):,} inputs have two or more outputs, but no input has two "
            "outputs with different ratings"
        )
    good = [r for r in differ if r[0][0] >= min_chosen]
    if not good:
        return (
            f"{seen}; {len(differ):,} inputs have outputs with different ratings, but none's "
            f"best output is rated at least the job's min_score {min_chosen:g}"
        )
    return (
        f"{seen}; {len(good):,} inputs have a best output rated at least {min_chosen:g}, but "
        f"none is rated more than --min-margin {min_margin:g} above its worst output"
    )
