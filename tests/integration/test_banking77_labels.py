"""Banking77's train split, posted as it is, is stored row for row with its own labels.

The data is the team's read-only copy (../shared/data/banking77 from the repository root; its
README names the columns text,category). Each row is sent through POST
/v1/interactions/batch to the session's gunicorn gateway with its text as the input, its
category unchanged as the task type (``reverted_card_payment?`` among them), one fixed
answer and a rating of 1.0. The module is skipped only when the data folder is absent.
"""

import csv
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import ApiClient, Stack, reset_store, task_distribution

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "banking77"
TRAIN = DATA / "train.csv"
BATCH = 1000  # the most one batch takes
ANSWER = "Thank you, we are looking into it."
QUESTION_MARK_LABEL = "reverted_card_payment?"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    """The train split's rows (text, category), as the file holds them."""
    if not TRAIN.is_file():
        pytest.skip(f"Banking77 is not at {DATA} (the team's shared data folder is absent)")
    with TRAIN.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module", autouse=True)
def store_wiped_afterwards(stack: Stack) -> Iterator[None]:
    """Wipe the 10,003 rows once this module is done: other modules' jobs never see them."""
    yield
    reset_store(stack)


def listed(client: ApiClient, task_type: str) -> list[dict]:
    """Every stored interaction of task_type, through the list's task_type filter."""
    found: list[dict] = []
    params: dict[str, object] = {"limit": 1000, "task_type": task_type}
    while True:
        page = client.get("/v1/interactions", params=params)
        assert page.status_code == 200, page.text[:300]
        found += page.json()["data"]
        if not page.json()["has_more"]:
            return found
        params["after"] = found[-1]["id"]


@pytest.fixture(scope="module")
def posted(client: ApiClient, rows: list[dict[str, str]]) -> Counter:
    """Post every row in batches; return the stored count per label it added."""
    before = task_distribution(client)
    for start in range(0, len(rows), BATCH):
        items = [
            {"input": r["text"], "output": ANSWER, "rating": 1.0, "task_type": r["category"]}
            for r in rows[start : start + BATCH]
        ]
        response = client.post("/v1/interactions/batch", json={"items": items})
        assert response.status_code == 201, f"rows {start + 2}-: {response.text[:1000]}"
        assert response.json()["count"] == len(items)
    return task_distribution(client) - before


def test_every_row_of_the_train_split_is_stored_under_its_own_label(
    rows: list[dict[str, str]], posted: Counter
) -> None:
    expected = Counter(r["category"] for r in rows)
    assert len(expected) == 77 and QUESTION_MARK_LABEL in expected
    assert posted == expected
    assert posted.total() == len(rows)


def test_the_label_with_a_question_mark_is_listed_by_its_filter_with_its_rows(
    client: ApiClient, rows: list[dict[str, str]], posted: Counter
) -> None:
    found = listed(client, QUESTION_MARK_LABEL)
    assert {r["task_type"] for r in found} == {QUESTION_MARK_LABEL}
    expected = Counter(r["text"] for r in rows if r["category"] == QUESTION_MARK_LABEL)
    assert Counter(r["input"] for r in found) == expected
    assert len(found) == posted[QUESTION_MARK_LABEL]
