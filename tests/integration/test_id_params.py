"""Ids in the path are checked against their kind's format before anything reads the store.

Ids are parts of Redis key names, so "file-…:content" names a file's bytes and "ftjob-…:events"
a job's event stream. Every route with an id parameter (read from the app's url_map, pages
included) is called with every method, with a real id plus a suffix, through the real
gunicorn gateway (so GET /v1/jobs/{id} goes through the hot lane); each answers 404 naming
what was sent, and the store is left exactly as it was.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from markupsafe import escape
from tuneloop_devstack.stack import Stack

from tuneloop.contracts import BASELINE_MODEL_ID
from tuneloop.store import ids, keys
from tuneloop_gateway.compat.errors import is_openai_route

from .support import (
    API_KEY,
    JOB_TIMEOUT,
    ApiClient,
    assert_problem,
    gateway_app,
    wait_file_checked,
    wait_until,
)

BANKING77 = Path(__file__).resolve().parents[1] / "fixtures" / "banking77-4"
# Each names another record's key when appended to an id, or is a pattern or template.
SUFFIXES = (":content", ":events", ":jobs", ":eval-set", "*", "{x}", "\n")
PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
STATIC = ("filename",)  # the static files' <path:filename>: not an id of ours
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LONG_EPOCHS = 200  # the most a job may ask for: it is still running when the test acts
# A body (or query) each route takes with a real id, so only the id can be what is refused.
BODIES: dict[tuple[str, str], dict] = {
    ("/v1/jobs/<job:job_id>/cases", "GET"): {"params": {"outcome": "regressed"}},
    ("/v1/interactions/<interaction:interaction_id>", "PATCH"): {"json": {"rating": 0.5}},
    ("/v1/interactions/<interaction:interaction_id>/scores", "POST"): {
        "json": {"name": "helpful", "value": 0.5, "source": "app"}
    },
    ("/v1/models/<model:model_id>/responses", "POST"): {"json": {"input": "Where is my card?"}},
    ("/ui/models/<model:model_id>/ask", "POST"): {"data": {"input": "Where is my card?"}},
}


def chat_file(per_intent: int | None) -> bytes:
    """The fixture's first rows of each intent (None: all) as chat-format JSONL, task typed."""
    with (BANKING77 / "train.csv").open(newline="") as f:
        every = list(csv.DictReader(f))
    seen: dict[str, int] = {}
    lines = []
    for row in every:
        seen[row["category"]] = seen.get(row["category"], 0) + 1
        if per_intent is None or seen[row["category"]] <= per_intent:
            messages = [
                {"role": "user", "content": row["text"]},
                {"role": "assistant", "content": f"About {row['category']}."},
            ]
            lines.append({"messages": messages, "metadata": {"task_type": row["category"]}})
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def upload(client: ApiClient, content: bytes) -> str:
    """Upload a training file and wait until it is processed; return its id."""
    answer = client.post(
        "/v1/files", files={"file": ("rows.jsonl", content)}, data={"purpose": "fine-tune"}
    )
    assert answer.status_code == 200, answer.text
    checked = wait_file_checked(client, answer.json()["id"])
    assert checked["status"] == "processed", checked
    return checked["id"]


def start_job(client: ApiClient, file_id: str, **hyperparameters: int) -> str:
    """Create an OpenAI fine-tuning job on a file; return its id."""
    body = {"model": BASELINE_MODEL_ID, "training_file": file_id}
    if hyperparameters:
        body["hyperparameters"] = hyperparameters
    answer = client.post("/v1/fine_tuning/jobs", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def ended(client: ApiClient, job_id: str) -> dict:
    """Wait until the job has ended; return it."""
    return wait_until(
        lambda: (
            (job := client.get(f"/v1/jobs/{job_id}").json())["status"]
            in ("succeeded", "failed", "cancelled")
            and job
        ),
        JOB_TIMEOUT,
        lambda: f"job {job_id} to end: {client.get(f'/v1/jobs/{job_id}').text[:500]}",
        0.2,
    )


@pytest.fixture(scope="module")
def real(client: ApiClient) -> dict[str, str]:
    """A real id of each kind: a file, the finished job trained on it, its model, an interaction,
    a webhook endpoint and the delivery of that job's end to it, an autopilot."""
    hook = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/ids", "events": ["*"]})
    assert hook.status_code == 201, hook.text
    webhook_id = hook.json()["id"]
    file_id = upload(client, chat_file(15))
    job = ended(client, start_job(client, file_id))
    assert job["status"] == "succeeded", job["error"]
    posted = client.post(
        "/v1/interactions",
        json={
            "input": "Where is my card?",
            "output": "On its way.",
            "rating": 0.9,
            "task_type": "card_arrival",
        },
    )
    assert posted.status_code == 201, posted.text
    iid = posted.json()["id"]
    edited = client.patch(f"/v1/interactions/{iid}", json={"rating": 0.8})  # its audit stream
    assert edited.status_code == 200, edited.text
    sent = client.get(f"/v1/webhooks/{webhook_id}/deliveries", params={"limit": 1}).json()
    autopilot = client.post(
        "/v1/autopilots",
        json={
            "trigger": {"new_ratings": 1_000_000},  # never due: no scheduler runs here anyway
            "job": {},
            "promote_if": [{"metric": "task_accuracy", "min_value": 0.0}],
        },
    )
    assert autopilot.status_code == 201, autopilot.text
    return {
        "job": job["id"],
        "file": file_id,
        "model": job["model_id"],
        "interaction": iid,
        "webhook": webhook_id,
        "delivery": sent["data"][0]["id"],
        "autopilot": autopilot.json()["id"],
    }


@pytest.fixture(scope="module")
def routes(stack: Stack) -> list[tuple[str, str]]:
    """(rule, method) of every route with a path parameter, from the app's url_map."""
    with gateway_app(stack.env()) as app:
        rules = [r for r in app.url_map.iter_rules() if r.arguments - set(STATIC)]
    return sorted((r.rule, m) for r in rules for m in r.methods - {"HEAD", "OPTIONS"})


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[ApiClient]:
    """A session logged in to the pages (no bearer key), with its CSRF token."""
    with ApiClient(stack.base_url) as session:
        form = session.get("/ui/login")
        data = {"csrf_token": CSRF.search(form.text).group(1), "api_key": API_KEY}
        assert session.post("/ui/login", data=data, allow_redirects=False).status_code == 303
        page = session.get(f"/ui/models/{BASELINE_MODEL_ID}")
        session.csrf = CSRF.search(page.text).group(1)  # type: ignore[attr-defined]
        yield session


def with_ids(rule: str, values: dict[str, str]) -> str:
    """The rule's path with each id parameter's value (percent-encoded), by its kind."""
    return PARAM.sub(lambda m: quote(values[m.group(1)], safe=""), rule)


def kinds_of(rule: str) -> list[str]:
    """The kinds of id the rule's parameters are, in order."""
    return [kind for kind, _ in PARAM.findall(rule)]


def call(
    client: ApiClient, browser: ApiClient, rule: str, method: str, values: dict[str, str]
) -> requests.Response:
    """Send method to the rule with values as its ids, as the route's clients send it."""
    kwargs = dict(BODIES.get((rule, method), {}))
    if rule == "/v1/jobs/<job:job_id>/compare":  # job B: the path's job again (A is checked first)
        kwargs["params"] = {"with": values["job"]}
    path = with_ids(rule, values)
    if rule.startswith("/ui/"):
        if method == "POST":
            kwargs["data"] = {**kwargs.get("data", {}), "csrf_token": browser.csrf}
        return browser.request(method, path, allow_redirects=False, **kwargs)
    return client.request(method, path, **kwargs)


def assert_names_the_id(response: requests.Response, rule: str, sent: str) -> None:
    """A 404 naming what was sent, in the shape the route's clients read."""
    named = repr(sent)
    if rule.startswith("/ui/") and not rule.endswith(".json"):
        assert response.status_code == 404, response.text[:500]
        assert str(escape(named)) in response.text, response.text[:2000]
    elif rule.startswith("/ui/"):
        assert response.status_code == 404, response.text[:500]
        assert named in response.json()["detail"], response.text
    elif is_openai_route(rule):
        assert response.status_code == 404, response.text[:500]
        error = response.json()["error"]
        assert error["code"] == "not_found" and named in error["message"], error
    else:
        assert named in assert_problem(response, 404)["detail"]


def snapshot(stack: Stack) -> dict[str, bytes]:
    """Every key of the store with its serialized value, but the rate limiter's counters."""
    raw = stack.store.raw
    names = [k for k in raw.scan_iter(count=1000) if not k.startswith(keys.RATE_LIMITS.encode())]
    return {name.decode(): raw.dump(name) for name in names}


def test_every_route_parameter_is_an_id_of_a_kind(routes: list[tuple[str, str]]) -> None:
    kinds = {kind.name for kind in ids.KINDS}
    assert routes, "no route has a path parameter"
    untyped = [rule for rule, _ in routes if {k for k, _ in PARAM.findall(rule)} - kinds]
    assert not untyped, f"path parameters without an id converter: {untyped}"


def test_real_ids_of_every_kind_reach_their_routes(
    client: ApiClient, browser: ApiClient, real: dict[str, str], routes: list[tuple[str, str]]
) -> None:
    for rule, method in routes:
        if method != "GET":
            continue
        response = call(client, browser, rule, method, real)
        assert response.status_code in (200, 409), (rule, response.status_code, response.text[:300])
    for name in (BASELINE_MODEL_ID, *ids.ALIASES):  # names, not ids: accepted too
        answer = client.get(f"/v1/models/{name}")
        assert answer.status_code == 200 or "no model is" in answer.json()["detail"], answer.text


@pytest.mark.parametrize("suffix", SUFFIXES, ids=repr)
def test_an_id_with_a_suffix_is_a_404_naming_it_on_every_route_and_changes_nothing(
    client: ApiClient,
    browser: ApiClient,
    stack: Stack,
    real: dict[str, str],
    routes: list[tuple[str, str]],
    suffix: str,
) -> None:
    ended(client, real["job"])
    before = snapshot(stack)
    wrong = []
    for rule, method in routes:
        for kind in kinds_of(rule):  # each of its ids in turn, the others real
            sent = real[kind] + suffix
            try:
                answer = call(client, browser, rule, method, {**real, kind: sent})
                assert_names_the_id(answer, rule, sent)
            except AssertionError as exc:
                wrong.append(f"{method} {rule} ({kind}): {str(exc)[:200]}")
    after = snapshot(stack)
    changed = [k for k in before.keys() | after.keys() if before.get(k) != after.get(k)]
    assert not wrong, "\n".join(wrong)
    assert not changed, f"the store changed: {sorted(changed)}"


def test_a_file_suffix_cannot_delete_the_content_a_running_job_trains_on(
    client: ApiClient,
) -> None:
    content = chat_file(None)
    file_id = upload(client, content)
    job_id = start_job(client, file_id, n_epochs=LONG_EPOCHS)
    for suffix in (":content", ":jobs"):
        response = client.delete(f"/v1/files/{file_id}{suffix}")
        assert response.status_code == 404, response.text
        assert repr(file_id + suffix) in response.json()["error"]["message"]
    refused = client.delete(f"/v1/files/{file_id}")
    assert refused.status_code == 409 and job_id in refused.text, refused.text
    assert client.get(f"/v1/files/{file_id}/content").content == content
    job = ended(client, job_id)
    assert job["status"] == "succeeded", job["error"]
    assert client.get(f"/v1/files/{file_id}/content").content == content


def test_the_hot_lane_leaves_a_job_id_with_a_suffix_to_flask(
    client: ApiClient, real: dict[str, str]
) -> None:
    for suffix in (":events", ":steps", ":deliveries", ":eval-set", ":artifacts"):
        sent = real["job"] + suffix
        body = assert_problem(client.get(f"/v1/jobs/{quote(sent)}"), 404)
        assert body["detail"] == f"no job with id {sent!r}"
