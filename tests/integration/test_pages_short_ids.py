"""A short id in a page's URL: 303 to the page of the one id it starts, a 300 page linking
the candidates when it starts several, the usual 404 when it starts none, a 422 asking for
the whole id when the lookup was cut short; an id_prefix list past MAX_MATCHES is a 422."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from tuneloop.store import prefixes

from .support import API_KEY, ApiClient, AppClient, Stack, assert_problem, failed_jobs
from .support.jobs import crowded_job_index
from .support.pages import csrf_of, login

pytestmark = pytest.mark.integration

TAG = secrets.token_hex(3)


@pytest.fixture
def browser(stack: Stack) -> Iterator[ApiClient]:
    """A browser session logged in with the stack's admin key."""
    with ApiClient(stack.base_url) as session:
        assert login(session, stack.base_url).status_code == 303
        yield session


@pytest.fixture(scope="module")
def jobs(client: ApiClient) -> list[str]:
    """Two jobs that fail at once (no data), oldest first."""
    return failed_jobs(client, 2, f"none{TAG}")


def shortest_unique(client: ApiClient, job_id: str) -> str:
    """The shortest prefix of job_id that the project's job list says is unique."""
    for end in range(len("ftjob-") + 1, len(job_id)):
        page = client.get("/v1/jobs", params={"id_prefix": job_id[:end]}).json()
        if [j["id"] for j in page["data"]] == [job_id]:
            return job_id[:end]
    raise AssertionError(job_id)


def test_a_unique_prefix_redirects_to_the_whole_ids_page_keeping_the_query(
    browser: ApiClient, client: ApiClient, jobs: list[str]
) -> None:
    short = shortest_unique(client, jobs[0])
    response = browser.get(f"/ui/jobs/{short}?notice=paused", allow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    assert response.headers["Location"].endswith(f"/ui/jobs/{jobs[0]}?notice=paused")
    page = browser.get(f"/ui/jobs/{short}")
    assert page.status_code == 200 and page.url.endswith(f"/ui/jobs/{jobs[0]}")


def test_an_ambiguous_prefix_is_a_300_page_linking_the_newest_candidates(
    browser: ApiClient, client: ApiClient, jobs: list[str]
) -> None:
    response = browser.get("/ui/jobs/ftjob-", allow_redirects=False)
    assert response.status_code == 300, response.text[:300]
    listed = re.findall(r'<a href="/ui/jobs/(ftjob-[0-9a-f]{24})"', response.text)
    assert listed[:2] == jobs[::-1] and len(listed) <= 10, listed
    matching = client.get("/v1/jobs", params={"id_prefix": "ftjob-", "limit": 100}).json()
    detail = html.unescape(re.search(r'id="ambiguous-detail">(.*?)</p>', response.text, re.S)[1])
    if not matching["has_more"]:
        assert detail.startswith(f"{len(matching['data'])} jobs have ids"), detail


def test_a_prefix_that_starts_no_id_is_the_usual_404(browser: ApiClient) -> None:
    response = browser.get("/ui/jobs/ftjob-zz", allow_redirects=False)
    assert response.status_code == 404 and "ftjob-zz" in response.text


def test_the_pages_json_and_forms_take_only_whole_ids(
    browser: ApiClient, client: ApiClient, jobs: list[str]
) -> None:
    short = shortest_unique(client, jobs[1])
    assert browser.get(f"/ui/jobs/{short}/live.json").status_code == 404


@pytest.fixture
def crowded(stack: Stack) -> Iterator[str]:
    """MAX_MATCHES + 1 ids in the project's job index sharing a prefix, removed after."""
    with crowded_job_index(stack.store, f"ftjob-{TAG}", prefixes.MAX_MATCHES + 1) as prefix:
        yield prefix


def test_an_id_prefix_list_matching_more_than_max_matches_is_a_422_naming_it(
    client: ApiClient, browser: ApiClient, crowded: str
) -> None:
    response = client.get("/v1/jobs", params={"id_prefix": crowded, "status": "failed"})
    problem = assert_problem(response, 422)
    assert "id_prefix" in problem["detail"] and "give more characters" in problem["detail"]
    assert f"more than {prefixes.MAX_MATCHES:,} ids" in problem["detail"], problem
    page = browser.get(f"/ui/jobs/{crowded}", allow_redirects=False)
    assert page.status_code == 300
    detail = html.unescape(re.search(r'id="ambiguous-detail">(.*?)</p>', page.text, re.S)[1])
    assert f"{prefixes.MAX_MATCHES}+ jobs" in detail and "newest" not in detail, detail


def app_login(app_client: AppClient) -> None:
    """Log the in-process app's test client in through the form."""
    form = app_client.get("/ui/login")
    data = {"csrf_token": csrf_of(form.text), "api_key": API_KEY, "next": "/ui/jobs"}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert app_client.post("/ui/login", data=urlencode(data), headers=headers).status_code == 303


def test_a_short_id_lookup_cut_short_is_a_422_page_asking_for_the_whole_id(
    app_client: AppClient,
    client: ApiClient,
    jobs: list[str],
    crowded: str,  # an index large enough to be scanned in more than one call
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short = shortest_unique(client, jobs[0])
    app_login(app_client)
    assert app_client.get(f"/ui/jobs/{short}").status_code == 303
    monkeypatch.setattr(prefixes, "SCAN_BATCH", 1)
    monkeypatch.setattr(prefixes, "MAX_VISITED", 1)  # the index holds more: never all seen
    page = app_client.get(f"/ui/jobs/{short}")
    assert page.status_code == 422, page.text[:300]
    assert "Give the whole id" in page.text and "more than 1 ids" in page.text
    compared = app_client.get(f"/ui/compare?a={short}&b={jobs[1]}")  # the form's fields too
    assert compared.status_code == 300, compared.text[:300]
    assert "give the whole id" in html.unescape(compared.text)
    api = client.get("/v1/jobs", params={"id_prefix": short})  # gunicorn: the real bound
    assert api.status_code == 200 and [j["id"] for j in api.json()["data"]] == [jobs[0]]
