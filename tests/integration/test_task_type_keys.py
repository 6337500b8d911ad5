"""Labels with Redis's special characters stay values: each keeps its own index and counts.

A task type names a Redis key (its interactions' sorted set) and a field of the statistics
hash, and is an argument of the store's Lua scripts. Labels holding ':', '*', '?', '[',
braces, spaces or non-ASCII text must neither reach another label's rows nor act as a
pattern: posted, filtered, counted, edited and deleted on the session's real stack.
"""

from collections import Counter
from collections.abc import Iterator

import pytest

from tuneloop.store import keys

from .support import ApiClient, Stack, reset_store, task_distribution

pytestmark = pytest.mark.integration

LABELS = [
    "card",
    "card*",
    "card:events",
    "card payment",
    "{card}",
    "[a-z]*",
    "card?",
    "m\u00e9t\u00e9o",
]


@pytest.fixture(scope="module", autouse=True)
def store_wiped_afterwards(stack: Stack) -> Iterator[None]:
    """Wipe the records this module made once it is done."""
    yield
    reset_store(stack)


def of_label(client: ApiClient, label: str) -> list[dict]:
    """The stored interactions the list's task_type filter gives for label."""
    page = client.get("/v1/interactions", params={"task_type": label, "limit": 1000})
    assert page.status_code == 200, page.text[:300]
    assert not page.json()["has_more"]
    return page.json()["data"]


@pytest.fixture(scope="module")
def posted(client: ApiClient) -> dict[str, list[str]]:
    """Label i gets i + 1 rows, in one batch; return the ids by label."""
    items = [
        {"input": f"{label} question {n}", "output": "answer", "rating": 0.9, "task_type": label}
        for i, label in enumerate(LABELS)
        for n in range(i + 1)
    ]
    created = client.post("/v1/interactions/batch", json={"items": items})
    assert created.status_code == 201, created.text[:1000]
    ids: dict[str, list[str]] = {label: [] for label in LABELS}
    for item, iid in zip(items, created.json()["ids"], strict=True):
        ids[item["task_type"]].append(iid)
    return ids


def test_each_label_has_its_own_index_and_count(
    client: ApiClient, stack: Stack, posted: dict[str, list[str]]
) -> None:
    counts = task_distribution(client)
    for label, ids in posted.items():
        assert counts[label] == len(ids), (label, counts)
        assert sorted(r["id"] for r in of_label(client, label)) == sorted(ids), label
        assert stack.store.redis.zcard(keys.DEFAULT_SPACE.interactions_of_task(label)) == len(
            ids
        ), label


def test_an_edit_and_a_delete_move_only_the_labels_they_name(
    client: ApiClient, posted: dict[str, list[str]]
) -> None:
    before = task_distribution(client)
    moved, gone = posted["card*"][0], posted["card:events"][0]
    patched = client.patch(f"/v1/interactions/{moved}", json={"task_type": "card:events"})
    assert patched.status_code == 200, patched.text[:300]
    assert client.delete(f"/v1/interactions/{gone}").status_code == 200
    after = task_distribution(client)
    assert after - before == Counter()  # "card:events" lost one and gained one
    assert before - after == Counter({"card*": 1}), (before, after)
    assert moved in {r["id"] for r in of_label(client, "card:events")}
    assert gone not in {r["id"] for r in of_label(client, "card:events")}
    assert moved not in {r["id"] for r in of_label(client, "card*")}
    for label in ("card", "{card}", "[a-z]*", "card?", "card payment"):
        assert after[label] == before[label], label
