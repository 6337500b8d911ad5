"""The interactions pages over HTTP: the filtered list, one interaction, its edit form, scopes.

Banking77 rows of a model unique to this module are posted through the API; the pages are
read and the edit form posted as a browser does (session cookie and CSRF token).
"""

import html
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask

from .support import ApiClient, Stack, gateway_app
from .support.banking77_rows import SCORE, post_rows, varied_rows
from .support.pages import csrf_of, login

pytestmark = pytest.mark.integration

INGEST_KEY, JOBS_KEY = "data-ingest-key-0123456789", "data-jobs-key-0123456789"


@pytest.fixture(scope="module")
def rows(client: ApiClient) -> dict:
    """Twelve rated Banking77 rows of one new model."""
    model = f"pages-data-{uuid.uuid4().hex[:8]}"
    return {"model": model, "records": post_rows(client, varied_rows(3, model))}


@pytest.fixture
def web(stack: Stack) -> Iterator[ApiClient]:
    """A browser session (no bearer key) logged in with the stack's admin key."""
    with ApiClient(stack.base_url) as session:
        assert login(session, stack.base_url).status_code == 303
        yield session


def shown_ids(page: str, rows: dict) -> list[str]:
    """The ids of rows the page lists, in its order."""
    ids = [r["id"] for r in rows["records"]]
    marks = [
        (page.index(f'data-interaction-id="{i}"'), i)
        for i in ids
        if f'data-interaction-id="{i}"' in page
    ]
    return [i for _, i in sorted(marks)]


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"q": "CARD"}, lambda r: "card" in (r["input"] + " " + r["output"]).lower()),
        ({"task_type": "pin_blocked"}, lambda r: r["task_type"] == "pin_blocked"),
        ({"min_rating": "0.3", "max_rating": "0.7"}, lambda r: 0.3 <= r["rating"] <= 0.7),
        ({"source": "synthetic"}, lambda r: r["source"] == "synthetic"),
        (
            {"score": SCORE, "min_score": "0.5"},
            lambda r: any(s["name"] == SCORE and s["value"] >= 0.5 for s in r["scores"]),
        ),
    ],
)
def test_the_list_shows_the_rows_each_filter_keeps(
    web: ApiClient, rows: dict, params: dict, keep: object
) -> None:
    page = web.get("/ui/interactions", params={**params, "model": rows["model"]})
    assert page.status_code == 200, page.text[:500]
    wanted = [r["id"] for r in rows["records"] if keep(r)]
    assert 0 < len(wanted) < len(rows["records"])
    assert shown_ids(page.text, rows) == wanted
    for name, value in params.items():  # the form keeps what was asked
        assert f'name="{name}"' in page.text and f'value="{value}"' in page.text


def day_of(seconds: int) -> str:
    """The UTC date of Unix seconds, as a date input gives it."""
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


def test_the_date_filter_takes_the_forms_dates(web: ApiClient, rows: dict) -> None:
    first, last = rows["records"][0]["created_at"], rows["records"][-1]["created_at"]
    window = {"created_after": day_of(first), "created_before": day_of(last + 86400)}
    page = web.get("/ui/interactions", params={**window, "model": rows["model"]})
    assert shown_ids(page.text, rows) == [r["id"] for r in rows["records"]]
    later = {"created_after": day_of(last + 86400), "model": rows["model"]}
    assert shown_ids(web.get("/ui/interactions", params=later).text, rows) == []
    earlier = {"created_before": day_of(first), "model": rows["model"]}
    assert shown_ids(web.get("/ui/interactions", params=earlier).text, rows) == []


def test_the_list_pages_with_the_filters_kept(web: ApiClient, rows: dict) -> None:
    first = web.get("/ui/interactions", params={"model": rows["model"], "source": "human"})
    wanted = [r["id"] for r in rows["records"] if r["source"] == "human"]
    assert shown_ids(first.text, rows) == wanted
    assert 'id="next-page"' not in first.text
    row = f'href="/ui/interactions/{wanted[0]}"'
    assert row in first.text


def test_a_bad_filter_is_shown_by_field_and_lists_nothing(web: ApiClient, rows: dict) -> None:
    page = web.get(
        "/ui/interactions",
        params={"min_rating": "0.8", "max_rating": "0.2", "model": rows["model"]},
    )
    assert page.status_code == 200
    assert 'id="error-min_rating"' in page.text
    assert "min_rating (0.8) is above max_rating (0.2)" in html.unescape(page.text)
    assert shown_ids(page.text, rows) == []


def test_a_bad_cursor_is_shown_as_the_after_fields_error_and_lists_nothing(
    web: ApiClient, rows: dict
) -> None:
    page = web.get("/ui/interactions", params={"after": "x" * 65, "model": rows["model"]})
    assert page.status_code == 200, page.text[:500]
    shown = html.unescape(page.text)
    assert "after: Length must be between 1 and 64." in shown, shown[:3000]
    assert shown_ids(page.text, rows) == []


def test_an_interaction_page_shows_its_text_scores_versions_and_trail(
    web: ApiClient, rows: dict
) -> None:
    record = next(r for r in rows["records"] if r["scores"])
    page = web.get(f"/ui/interactions/{record['id']}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert record["input"] in text and record["output"] in text
    assert f'data-score="{SCORE}"' in page.text
    assert 'data-version="2"' in page.text  # the score wrote version 2
    assert 'data-type="interaction.scored"' in page.text


def events_of(client: ApiClient, iid: str) -> list[dict]:
    return client.get(f"/v1/interactions/{iid}/events").json()["data"]


def test_the_edit_form_changes_the_rating_and_a_new_version_shows(
    web: ApiClient, client: ApiClient, rows: dict
) -> None:
    record = next(r for r in rows["records"] if not r["scores"])
    path = f"/ui/interactions/{record['id']}"
    token = csrf_of(web.get(path).text)
    new_rating = 0.25 if record["rating"] != 0.25 else 0.75
    form = {"csrf_token": token, "rating": str(new_rating), "task_type": record["task_type"]}
    answer = web.post(f"{path}/edit", data=form, allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"{path}?notice=saved")
    assert client.get(f"/v1/interactions/{record['id']}").json()["rating"] == new_rating
    [event] = events_of(client, record["id"])
    assert event["changes"]["rating"] == {"before": record["rating"], "after": new_rating}
    page = web.get(answer.headers["Location"])
    assert 'id="notice"' in page.text and 'data-version="2"' in page.text
    assert 'data-type="interaction.updated"' in page.text
    assert f"{record['rating']} → {new_rating}" in html.unescape(page.text)
    again = web.post(f"{path}/edit", data=form, allow_redirects=False)  # the same values
    assert again.headers["Location"].endswith("notice=unchanged")
    assert len(events_of(client, record["id"])) == 1


@pytest.mark.parametrize(
    ("rating", "task_type", "field"),
    [
        ("1.5", "card_arrival", "rating"),
        ("high", "card_arrival", "rating"),
        ("0.5", "", "task_type"),
    ],
)
def test_a_bad_edit_shows_the_field_error_and_stores_nothing(
    web: ApiClient, client: ApiClient, rows: dict, rating: str, task_type: str, field: str
) -> None:
    record = rows["records"][-1]
    path = f"/ui/interactions/{record['id']}"
    before = client.get(f"/v1/interactions/{record['id']}").json()
    trail = events_of(client, record["id"])
    form = {"csrf_token": csrf_of(web.get(path).text), "rating": rating, "task_type": task_type}
    answer = web.post(f"{path}/edit", data=form, allow_redirects=False)
    assert answer.status_code == 422
    assert f'id="error-{field}"' in answer.text
    assert f'value="{rating}"' in answer.text  # the form keeps what was typed
    assert client.get(f"/v1/interactions/{record['id']}").json() == before
    assert events_of(client, record["id"]) == trail


def test_an_edit_without_the_csrf_token_is_refused(
    web: ApiClient, client: ApiClient, rows: dict
) -> None:
    record = rows["records"][2]  # one no other test edits
    form = {"rating": "0.01", "task_type": record["task_type"]}
    answer = web.post(f"/ui/interactions/{record['id']}/edit", data=form, allow_redirects=False)
    assert answer.status_code == 403
    assert client.get(f"/v1/interactions/{record['id']}").json()["rating"] == record["rating"]


def test_an_unknown_interaction_is_a_404_page(web: ApiClient) -> None:
    page = web.get("/ui/interactions/int_doesnotexist")
    assert page.status_code == 404 and "no interaction with id" in html.unescape(page.text)


@pytest.fixture(scope="module")
def scoped_app(stack: Stack) -> Iterator[Flask]:
    """The gateway app in this process with an ingest-only and a jobs-only key."""
    keys = f"ingester:{INGEST_KEY}:ingest,viewer:{JOBS_KEY}:jobs"
    with gateway_app(stack.env(TUNELOOP_API_KEYS=keys)) as app:
        yield app


@pytest.mark.parametrize(("key", "status"), [(INGEST_KEY, 200), (JOBS_KEY, 403)])
def test_the_pages_need_the_ingest_scope(
    scoped_app: Flask, rows: dict, key: str, status: int
) -> None:
    web = scoped_app.test_client()
    form = web.get("/ui/login")
    web.post("/ui/login", data={"csrf_token": csrf_of(form.text), "api_key": key})
    iid = rows["records"][0]["id"]
    assert web.get("/ui/interactions").status_code == status
    assert web.get(f"/ui/interactions/{iid}").status_code == status
    if status == 403:  # the error page still carries the session's token (the logout form)
        token = csrf_of(web.get("/ui/interactions").text)
        edit = {"csrf_token": token, "rating": "0.01", "task_type": "card_arrival"}
        assert web.post(f"/ui/interactions/{iid}/edit", data=edit).status_code == 403


NAV = ("nav-jobs", "nav-new-job", "nav-compare", "nav-autopilots", "nav-baseline")


@pytest.mark.parametrize(
    ("key", "shown", "hidden"),
    [
        (INGEST_KEY, {"nav-interactions"}, {*NAV, "nav-workers"}),
        (JOBS_KEY, set(NAV), {"nav-interactions", "nav-workers"}),
    ],
)
def test_the_nav_links_only_the_pages_the_key_may_open(
    scoped_app: Flask, key: str, shown: set[str], hidden: set[str]
) -> None:
    web = scoped_app.test_client()
    form = web.get("/ui/login")
    web.post("/ui/login", data={"csrf_token": csrf_of(form.text), "api_key": key})
    page = web.get("/ui/interactions").text  # a page or the 403 page: both carry the nav
    links = set(re.findall(r'id="(nav-[a-z-]+)"', page))
    assert shown <= links and not hidden & links, links
