"""The accept-only fast path never accepts what InteractionInSchema refuses, nor loads it
differently; and it does accept the ordinary valid item (else it would be no faster)."""

import math
import random

import pytest
from marshmallow import ValidationError

from tuneloop.schemas.interactions import MAX_BATCH, InteractionBatchInSchema, InteractionInSchema
from tuneloop_gateway import trusted

GOOD = {
    "input": "Will it rain in Oslo tomorrow?",
    "output": "Expect light rain in the afternoon.",
    "rating": 0.9,
    "task_type": "weather",
}
VALID = [
    GOOD,
    {**GOOD, "rating": 0},
    {**GOOD, "rating": 1},
    {**GOOD, "rating": 1.0},
    {**GOOD, "source": "import"},
    {**GOOD, "metadata": {}},
    {**GOOD, "metadata": {"channel": "web", "nested": {"a": [1, 2, {"b": None}]}}},
    {**GOOD, "task_type": "a" * 64},
    {**GOOD, "task_type": "billing.v2:eu-west_1"},
    {**GOOD, "task_type": "reverted_card_payment?"},
    {**GOOD, "task_type": "m\u00e9t\u00e9o"},
    {**GOOD, "task_type": "has space"},
    {**GOOD, "task_type": "-leading"},
    {**GOOD, "task_type": "a:b*{c}"},
    {**GOOD, "input": "x" * 4000},
    {**GOOD, "input": "tab\tand\nnewline\r"},
    {**GOOD, "model": "gpt-4o-mini"},
    {**GOOD, "model": "meta-llama/Llama-3.1-8B-Instruct"},
    {**GOOD, "model": "ft:gpt-4o-mini:acme::x@1"},
    {**GOOD, "model": "m" * 128},
]
INVALID = [
    {**GOOD, "extra": 1},
    {k: v for k, v in GOOD.items() if k != "output"},
    {**GOOD, "input": ""},
    {**GOOD, "input": "   \n\t"},
    {**GOOD, "input": "x" * 4001},
    {**GOOD, "input": "bell\x07"},
    {**GOOD, "input": "del\x7f"},
    {**GOOD, "input": 12},
    {**GOOD, "input": None},
    {**GOOD, "rating": 1.0000001},
    {**GOOD, "rating": -0.0001},
    {**GOOD, "rating": math.nan},
    {**GOOD, "rating": math.inf},
    {**GOOD, "rating": True},
    {**GOOD, "rating": "0.5"},
    {**GOOD, "rating": None},
    {**GOOD, "task_type": ""},
    {**GOOD, "task_type": "a" * 65},
    {**GOOD, "task_type": " leading"},
    {**GOOD, "task_type": "trailing "},
    {**GOOD, "task_type": "a\x00b"},
    {**GOOD, "task_type": "a\u200bb"},
    {**GOOD, "task_type": "\ud800"},
    {**GOOD, "task_type": 7},
    {**GOOD, "rating": 10**399},
    {**GOOD, "rating": -(10**399)},
    {**GOOD, "source": "robot"},
    {**GOOD, "source": None},
    {**GOOD, "source": ["human"]},
    {**GOOD, "metadata": None},
    {**GOOD, "metadata": []},
    {**GOOD, "metadata": {"": 1}},
    {**GOOD, "metadata": {"k" * 65: 1}},
    {**GOOD, "metadata": {"a": {"b": {"c": {"d": {"e": 1}}}}}},
    {**GOOD, "metadata": {"big": "x" * 5000}},
    {**GOOD, "metadata": {"nan": math.nan}},
    {**GOOD, "model": ""},
    {**GOOD, "model": "m" * 129},
    {**GOOD, "model": "-leading"},
    {**GOOD, "model": "has space"},
    {**GOOD, "model": "gpt-4o\n"},
    {**GOOD, "model": "m\u00e9t\u00e9o"},
    {**GOOD, "model": 7},
    {**GOOD, "model": ["gpt-4o"]},
    [GOOD],
    "item",
    None,
]
# Valid, but outside the fast path's plain checks: marshmallow decides.
DECLINED = [
    {**GOOD, "input": "Vil det regne i Tromsø?"},
    {**GOOD, "output": "\u200b\u200b"},  # only format characters: blank to marshmallow
    {**GOOD, "input": "lone \ud800 surrogate"},
    {**GOOD, "model": None},  # valid (no model), but marshmallow's to load
]


def marshmallow(item: object) -> dict | None:
    try:
        return InteractionInSchema().load(item)
    except ValidationError:
        return None


def assert_sound(item: object) -> dict | None:
    fast = trusted.interaction(item)
    if fast is not None:
        full = marshmallow(item)
        assert full is not None, f"the fast path accepted what marshmallow refuses: {item!r}"
        assert fast == full and list(fast) == list(full)
        assert all(type(fast[k]) is type(full[k]) for k in full)
    return fast


@pytest.mark.parametrize("item", VALID, ids=repr)
def test_an_ordinary_valid_item_takes_the_fast_path_and_loads_the_same(item: dict) -> None:
    assert assert_sound(item) is not None


@pytest.mark.parametrize("item", INVALID + DECLINED, ids=repr)
def test_an_invalid_or_unusual_item_is_left_to_marshmallow(item: object) -> None:
    assert assert_sound(item) is None


POOL = [
    None, True, False, 0, 1, -1, 0.5, 1.5, math.nan, math.inf, "", " ", "x", "weather",
    "human", "a b", " a", "a?", "\x00", "é", 10**399, "x" * 4001, [], {}, {"k": 1}, {"": 1}, ["x"],
    "gpt-4o-mini", "a/b@c:d", "-x", "x" * 129,
]  # fmt: skip


def test_random_items_never_pass_the_fast_path_unless_marshmallow_agrees() -> None:
    rng = random.Random(13)
    keys = ["input", "output", "rating", "task_type", "source", "metadata", "model", "other"]
    taken = 0
    for _ in range(3000):
        item = dict(rng.choice(VALID))
        for key in rng.sample(keys, rng.randint(0, 2)):
            if rng.random() < 0.2:
                item.pop(key, None)
            else:
                item[key] = rng.choice(POOL)
        taken += assert_sound(item) is not None
    assert taken > 100  # the random walk does reach the fast path


def test_a_batch_takes_the_fast_path_only_when_every_item_does() -> None:
    good = {"items": [GOOD] * MAX_BATCH}
    assert trusted.batch(good, MAX_BATCH) == InteractionBatchInSchema().load(good)
    for bad in (
        {"items": [GOOD, {**GOOD, "rating": 2}]},
        {"items": [GOOD] * (MAX_BATCH + 1)},
        {"items": []},
        {"items": GOOD},
        {"items": [GOOD], "more": 1},
        [GOOD],
    ):
        assert trusted.batch(bad, MAX_BATCH) is None, bad
