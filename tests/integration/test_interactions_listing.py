"""Listing and counting interactions: cursor pages, filters and statistics."""

import math
import uuid
from collections import Counter
from decimal import Decimal

import pytest

from .support import ApiClient, assert_problem

pytestmark = pytest.mark.integration

RATINGS = [0.0, 0.05, 0.15, 0.3, 0.45, 0.55, 0.6, 0.79, 0.8, 0.85, 0.9, 0.95, 0.999, 1.0]
PAGE = 7


def expected_bucket(rating: float) -> str:
    """The histogram bucket of a rating, in decimal arithmetic: ten buckets of width 0.1."""
    low = min(math.floor(Decimal(str(rating)) * 10), 9)
    return f"{low / 10:.1f}-{(low + 1) / 10:.1f}"


@pytest.fixture(scope="module")
def posted(client: ApiClient) -> dict:
    """Post 23 interactions over three task types unique to this run, in a known order."""
    run = uuid.uuid4().hex[:8]
    tasks = [f"listing-{run}-{name}" for name in ("alpha", "beta", "gamma")]
    before = client.get("/v1/interactions/stats").json()
    items = [
        {
            "input": f"Listing question {i} of run {run}",
            "output": f"Listing answer {i}",
            "rating": RATINGS[i % len(RATINGS)],
            "task_type": tasks[i % 3 if i % 5 else 0],
            "source": ("human", "synthetic", "import")[i % 3],
            "metadata": {"n": i, "run": run, "tags": ["a", {"b": [1, 2]}]},
        }
        for i in range(23)
    ]
    batch = client.post("/v1/interactions/batch", json={"items": items[:20]})
    assert batch.status_code == 201, batch.text
    assert batch.json()["count"] == 20
    ids = batch.json()["ids"]
    for item in items[20:]:
        one = client.post("/v1/interactions", json=item)
        assert one.status_code == 201, one.text
        ids.append(one.json()["id"])
    assert len(set(ids)) == len(ids) == len(items)
    records = [{**item, "id": iid} for item, iid in zip(items, ids, strict=True)]
    return {"run": run, "tasks": tasks, "records": records, "stats_before": before}


def pages(client: ApiClient, limit: int, **params: object) -> list[dict]:
    """Follow the cursor from the start; return every page as the API gave it."""
    result, after = [], None
    for _ in range(10_000):
        query = {"limit": limit, **params, **({"after": after} if after else {})}
        response = client.get("/v1/interactions", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["object"] == "list"
        result.append(page)
        if not page["has_more"]:
            return result
        assert page["data"], f"an empty page said has_more: {page}"
        after = page["data"][-1]["id"]
    raise AssertionError("the cursor did not reach the end")


def assert_full_pages(all_pages: list[dict], limit: int) -> None:
    """Every page but the last is full; only the last says has_more false."""
    for page in all_pages[:-1]:
        assert len(page["data"]) == limit and page["has_more"] is True
    assert len(all_pages[-1]["data"]) <= limit and all_pages[-1]["has_more"] is False


def test_cursor_pages_return_every_record_once_in_posting_order(
    client: ApiClient, posted: dict
) -> None:
    all_pages = pages(client, PAGE)
    assert_full_pages(all_pages, PAGE)
    listed = [row for page in all_pages for row in page["data"]]
    ids = [row["id"] for row in listed]
    assert len(ids) == len(set(ids)), "a record was listed twice"
    mine = {r["id"] for r in posted["records"]}
    assert [i for i in ids if i in mine] == [r["id"] for r in posted["records"]]
    assert len(ids) == client.get("/v1/interactions/stats").json()["count"]


def test_listed_records_hold_what_was_posted(client: ApiClient, posted: dict) -> None:
    listed = {
        row["id"]: row
        for page in pages(client, 100, task_type=posted["tasks"][1])
        for row in page["data"]
    }
    for record in posted["records"]:
        if record["task_type"] != posted["tasks"][1]:
            continue
        row = listed[record["id"]]
        assert row["object"] == "interaction"
        assert isinstance(row["created_at"], int) and row["created_at"] > 1_600_000_000
        assert {k: row[k] for k in record} == record


@pytest.mark.parametrize("task", [0, 1, 2])
def test_task_type_filter_pages_through_exactly_that_task(
    client: ApiClient, posted: dict, task: int
) -> None:
    task_type = posted["tasks"][task]
    all_pages = pages(client, 2, task_type=task_type)
    assert_full_pages(all_pages, 2)
    ids = [row["id"] for page in all_pages for row in page["data"]]
    assert ids == [r["id"] for r in posted["records"] if r["task_type"] == task_type]
    assert {row["task_type"] for page in all_pages for row in page["data"]} == {task_type}


@pytest.mark.parametrize("min_rating", [0.0, 0.5, 0.8, 0.95, 1.0])
def test_min_rating_filter_keeps_records_rated_at_or_above_it(
    client: ApiClient, posted: dict, min_rating: float
) -> None:
    all_pages = pages(client, 5, min_rating=min_rating)
    assert_full_pages(all_pages, 5)
    rows = [row for page in all_pages for row in page["data"]]
    assert all(row["rating"] >= min_rating for row in rows)
    mine = {r["id"] for r in posted["records"]}
    expected = [r["id"] for r in posted["records"] if r["rating"] >= min_rating]
    assert expected, "the data set should have a record at every threshold"
    assert [row["id"] for row in rows if row["id"] in mine] == expected


@pytest.mark.parametrize("min_rating", [0.5, 0.8, 0.95])
def test_task_type_and_min_rating_filters_combine(
    client: ApiClient, posted: dict, min_rating: float
) -> None:
    task_type = posted["tasks"][1]
    all_pages = pages(client, 2, task_type=task_type, min_rating=min_rating)
    assert_full_pages(all_pages, 2)
    ids = [row["id"] for page in all_pages for row in page["data"]]
    assert ids == [
        r["id"]
        for r in posted["records"]
        if r["task_type"] == task_type and r["rating"] >= min_rating
    ]


def test_has_more_is_false_when_the_last_page_is_exactly_full(
    client: ApiClient, posted: dict
) -> None:
    task_type = posted["tasks"][2]
    n = sum(r["task_type"] == task_type for r in posted["records"])
    exact = client.get("/v1/interactions", params={"task_type": task_type, "limit": n}).json()
    assert len(exact["data"]) == n and exact["has_more"] is False
    short = client.get("/v1/interactions", params={"task_type": task_type, "limit": n - 1}).json()
    assert len(short["data"]) == n - 1 and short["has_more"] is True
    after_last = client.get(
        "/v1/interactions", params={"task_type": task_type, "after": exact["data"][-1]["id"]}
    ).json()
    assert after_last == {"object": "list", "data": [], "has_more": False}


def test_paging_after_an_unknown_interaction_is_a_404_problem(client: ApiClient) -> None:
    response = client.get("/v1/interactions", params={"after": "int_doesnotexist"})
    assert_problem(response, 404)


def test_stats_count_tasks_and_rating_histogram_match_what_was_posted(
    client: ApiClient, posted: dict
) -> None:
    before = posted["stats_before"]
    after = client.get("/v1/interactions/stats").json()
    records = posted["records"]
    assert after["count"] - before["count"] == len(records)
    tasks = Counter(r["task_type"] for r in records)
    assert {t: after["task_distribution"].get(t) for t in tasks} == dict(tasks)
    assert all(t not in before["task_distribution"] for t in tasks)
    buckets = Counter(expected_bucket(r["rating"]) for r in records)
    delta = {
        k: v - before["rating_histogram"].get(k, 0)
        for k, v in after["rating_histogram"].items()
        if v - before["rating_histogram"].get(k, 0)
    }
    assert delta == dict(buckets)
    assert set(after["rating_histogram"]) <= {expected_bucket(i / 10) for i in range(10)}
