"""The interaction list's filters: text, rating range, source, named score, dates; bad ones.

Banking77 rows are posted in two batches a clock second apart, all of one model unique to this
run (the model filter keeps other tests' rows out); each filter must keep some rows, not all.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from redis import Redis

from tuneloop.store.interactions import InteractionStore

from .support import ApiClient, assert_problem, private_stack, wait_until
from .support.banking77_rows import SCORE, post_rows, varied_rows

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rows(client: ApiClient) -> dict:
    """Sixteen rated Banking77 rows of one new model, posted in two batches a second apart."""
    model = f"filters-{uuid.uuid4().hex[:8]}"
    items = varied_rows(4, model)
    first = post_rows(client, items[:8])
    wait_until(lambda: int(time.time()) > first[-1]["created_at"], 5, lambda: "a clock tick")
    second = post_rows(client, items[8:])
    assert second[0]["created_at"] > first[-1]["created_at"]
    return {"model": model, "records": first + second, "second_at": second[0]["created_at"]}


def listed(client: ApiClient, limit: int = 3, **params: object) -> list[str]:
    """Every id the list gives for params, following next_after page by page."""
    ids, after = [], None
    for _ in range(1000):
        query = {"limit": limit, **params, **({"after": after} if after else {})}
        response = client.get("/v1/interactions", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["data"]) <= limit
        ids += [row["id"] for row in page["data"]]
        if not page["has_more"]:
            assert "next_after" not in page
            return ids
        after = page["next_after"]
    raise AssertionError("the cursor did not reach the end")


def expect(rows: dict, keep: Callable[[dict], bool]) -> list[str]:
    """The ids of the posted rows keep accepts, in posting order: some, never all."""
    ids = [r["id"] for r in rows["records"] if keep(r)]
    assert 0 < len(ids) < len(rows["records"]), "the data should tell this filter apart"
    return ids


def score_of(record: dict) -> float | None:
    return next((s["value"] for s in record["scores"] if s["name"] == SCORE), None)


@pytest.mark.parametrize("q", ["CARD", "exchange", "Intent: Pin", "top up"])
def test_q_finds_text_in_the_input_or_the_output_ignoring_case(
    client: ApiClient, rows: dict, q: str
) -> None:
    needle = q.casefold()
    wanted = expect(
        rows, lambda r: needle in r["input"].casefold() or needle in r["output"].casefold()
    )
    assert listed(client, q=q, model=rows["model"]) == wanted


def test_q_searches_every_project_row_without_another_filter(client: ApiClient, rows: dict) -> None:
    marker = uuid.uuid4().hex
    item = {"input": f"Where is my card? {marker}", "output": "ok", "rating": 1.0, "task_type": "t"}
    posted = client.post("/v1/interactions", json=item)
    assert posted.status_code == 201, posted.text
    assert listed(client, limit=1000, q=marker.upper()) == [posted.json()["id"]]


@pytest.mark.parametrize(
    ("low", "high"), [(0.3, 0.7), (None, 0.5), (0.6, None), (0.7, 0.7), (0.0, 0.1)]
)
def test_rating_range_keeps_ratings_within_both_bounds(
    client: ApiClient, rows: dict, low: float | None, high: float | None
) -> None:
    bounds = {k: v for k, v in (("min_rating", low), ("max_rating", high)) if v is not None}
    wanted = expect(
        rows,
        lambda r: (low is None or r["rating"] >= low) and (high is None or r["rating"] <= high),
    )
    assert listed(client, model=rows["model"], **bounds) == wanted


@pytest.mark.parametrize("source", ["human", "synthetic", "import"])
def test_source_keeps_the_rows_of_that_source(client: ApiClient, rows: dict, source: str) -> None:
    wanted = expect(rows, lambda r: r["source"] == source)
    assert listed(client, model=rows["model"], source=source) == wanted


@pytest.mark.parametrize(
    ("low", "high"), [(None, None), (0.5, None), (None, 0.5), (0.5, 0.8), (1.0, 1.0)]
)
def test_a_named_score_keeps_rows_with_that_score_within_its_bounds(
    client: ApiClient, rows: dict, low: float | None, high: float | None
) -> None:
    bounds = {k: v for k, v in (("min_score", low), ("max_score", high)) if v is not None}

    def keep(r: dict) -> bool:
        value = score_of(r)
        return (
            value is not None and (low is None or value >= low) and (high is None or value <= high)
        )

    assert listed(client, model=rows["model"], score=SCORE, **bounds) == expect(rows, keep)


def test_the_rating_as_a_named_score_bounds_the_rating(client: ApiClient, rows: dict) -> None:
    wanted = expect(rows, lambda r: r["rating"] >= 0.9)
    assert listed(client, model=rows["model"], score="rating", min_score=0.9) == wanted


def test_an_unknown_score_name_keeps_nothing(client: ApiClient, rows: dict) -> None:
    assert listed(client, model=rows["model"], score="no-such-score") == []


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


@pytest.mark.parametrize("form", [str, iso])
def test_created_after_and_before_split_the_two_batches(
    client: ApiClient, rows: dict, form: Callable[[int], str]
) -> None:
    moment = rows["second_at"]
    later = expect(rows, lambda r: r["created_at"] >= moment)
    earlier = expect(rows, lambda r: r["created_at"] < moment)
    assert listed(client, model=rows["model"], created_after=form(moment)) == later
    assert listed(client, model=rows["model"], created_before=form(moment)) == earlier
    both = {"created_after": form(moment), "created_before": form(moment + 3600)}
    assert listed(client, model=rows["model"], **both) == later


def test_filters_combine_and_page_by_next_after(client: ApiClient, rows: dict) -> None:
    def keep(r: dict) -> bool:
        text = (r["input"] + r["output"]).casefold()
        return "card" in text and r["rating"] >= 0.3 and r["source"] != "import"

    wanted = expect(rows, keep)
    for source in ("human", "synthetic"):
        query = {"q": "card", "min_rating": 0.3, "source": source, "model": rows["model"]}
        got = listed(client, limit=1, **query)
        assert got == [
            i for i in wanted if i in {r["id"] for r in rows["records"] if r["source"] == source}
        ]


@pytest.mark.parametrize("name", ["search", "text", "Q", "rating_max", "created"])
def test_an_unknown_filter_is_refused_with_400_naming_it(client: ApiClient, name: str) -> None:
    body = assert_problem(client.get("/v1/interactions", params={name: "x"}), 400, [name])
    assert "unknown query parameter" in body["errors"][name][0]
    assert "max_rating" in body["errors"][name][0], "the answer should list the known ones"


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"min_rating": 0.8, "max_rating": 0.2}, ["min_rating", "max_rating"]),
        ({"score": SCORE, "min_score": 0.9, "max_score": 0.1}, ["min_score", "max_score"]),
        (
            {"created_after": "2026-12-08", "created_before": "2026-12-07"},
            ["created_after", "created_before"],
        ),
        ({"min_score": 0.5}, ["min_score"]),
        ({"created_after": "yesterday"}, ["created_after"]),
        ({"source": "scraped"}, ["source"]),
        ({"max_rating": 1.5}, ["max_rating"]),
        ({"q": " "}, ["q"]),
        ({"score": "no spaces"}, ["score"]),
    ],
)
def test_a_bad_filter_value_is_422_naming_the_fields(
    client: ApiClient, params: dict, fields: list[str]
) -> None:
    assert_problem(client.get("/v1/interactions", params=params), 422, fields)


@pytest.fixture(scope="module")
def store() -> Iterator[InteractionStore]:
    """An interaction store over a private redis-server."""
    with private_stack("tuneloop-filters-") as stack:
        redis = Redis.from_url(stack.start_redis(appendfsync=None), decode_responses=True)
        yield InteractionStore(redis)
        redis.close()


def test_a_rare_match_reads_a_bounded_number_of_rows_per_page(store: InteractionStore) -> None:
    items = [
        {
            "input": f"row {i}" + (" needle" if i in (3, 17, 18) else ""),
            "output": "o",
            "rating": 0.5,
            "task_type": "t",
        }
        for i in range(25)
    ]
    ids = [r["id"] for r in store.add_many(items)]
    pages, after = [], None
    while True:
        data, after = store.page(2, after, most=10, q="NEEDLE")
        pages.append([r["id"] for r in data])
        if after is None:
            break
    # Ten rows read per page at most: rows 0-9 hold one match, 10-19 two, 20-24 none.
    assert pages == [[ids[3]], [ids[17], ids[18]], []]
