"""Two real jobs on the same data, with different epochs and learning rates, compared through
GET /v1/jobs/{a}/compare?with={b} and `tuneloop jobs compare A B`.

The data has task types of its own (a random tag), and the jobs select only them, so what
other modules stored on the session stack changes nothing here.
"""

from __future__ import annotations

import html
import json
import re
import secrets

import pytest
import requests

from .support import ApiClient, Stack, assert_problem, training_items, wait_for_job
from .support.pages import login
from .test_cli import ok, tuneloop

pytestmark = pytest.mark.integration

TAG = secrets.token_hex(3)
SETTINGS = {"a": {"n_epochs": 1, "learning_rate": 0.05}, "b": {"n_epochs": 8, "learning_rate": 0.5}}


def tagged_items() -> list[dict]:
    """The faults module's training items under task types of this module's own."""
    return [{**item, "task_type": f"{item['task_type']}{TAG}"} for item in training_items(20)]


def create_pair(client: ApiClient, stack: Stack) -> tuple[dict, dict]:
    """Store the tagged items; run jobs A and B on them (same split and seed); return both."""
    items = tagged_items()
    stored = client.post("/v1/interactions/batch", json={"items": items})
    assert stored.status_code == 201, stored.text
    jobs = {}
    for side, hyper in SETTINGS.items():
        body = {
            "include_synthetic": False,
            "task_types": sorted({item["task_type"] for item in items}),
            "holdout_fraction": 0.3,
            "hyperparameters": {**hyper, "early_stopping_patience": None},
        }
        created = client.post("/v1/jobs", json=body)
        assert created.status_code == 202, created.text
        jobs[side] = created.json()["id"]
    return tuple(wait_for_job(client, stack, jobs[side]) for side in ("a", "b"))


@pytest.fixture(scope="module")
def pair(client: ApiClient, stack: Stack) -> tuple[dict, dict]:
    """Jobs A (1 epoch, learning rate 0.05) and B (8 epochs, 0.5), succeeded."""
    return create_pair(client, stack)


@pytest.fixture(scope="module")
def compared(client: ApiClient, pair: tuple[dict, dict]) -> dict:
    """The API's comparison of A with B."""
    a, b = pair
    response = client.get(f"/v1/jobs/{a['id']}/compare", params={"with": b["id"]})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_comparison_shows_both_loss_curves_and_the_differing_hyperparameters(
    pair: tuple[dict, dict], compared: dict
) -> None:
    a, b = pair
    assert compared["a"]["id"] == a["id"] and compared["b"]["id"] == b["id"]
    assert compared["loss_curves"]["a"] == a["result"]["epochs"]
    assert compared["loss_curves"]["b"] == b["result"]["epochs"]
    assert len(compared["loss_curves"]["a"]) == 1 and len(compared["loss_curves"]["b"]) == 8
    diff = {row["path"]: (row["a"], row["b"]) for row in compared["config_diff"]}
    assert diff["request.hyperparameters.n_epochs"] == (1, 8)
    assert diff["request.hyperparameters.learning_rate"] == (0.05, 0.5)
    assert diff["used.n_epochs"] == (1, 8) and diff["used.learning_rate"] == (0.05, 0.5)
    assert not [p for p in diff if p.startswith(("request.task_types", "request.holdout"))]


def test_task_accuracy_gets_a_paired_interval_and_the_others_an_unpaired_one(
    pair: tuple[dict, dict], compared: dict
) -> None:
    a, b = (job["result"]["fine_tuned_metrics"] for job in pair)
    rows = {row["name"]: row for row in compared["metrics"]}
    accuracy = rows["task_accuracy"]
    assert accuracy["delta"] == pytest.approx(b["task_accuracy"] - a["task_accuracy"])
    assert accuracy["method"] == "paired_bootstrap"
    low, high = accuracy["ci95"]
    assert low <= accuracy["delta"] <= high
    assert rows["average_confidence"]["method"] == "unpaired"
    assert set(compared["intervals"]["methods"]) == {"paired_bootstrap", "unpaired"}
    tasks = {row["task_type"]: row for row in compared["tasks"]}
    assert set(tasks) == set(b["by_task_type"])
    for task, row in tasks.items():
        want = b["by_task_type"][task]["task_accuracy"] - a["by_task_type"][task]["task_accuracy"]
        assert row["delta"] == pytest.approx(want), task


def test_the_cases_one_got_right_are_what_each_model_answers_now(
    client: ApiClient, pair: tuple[dict, dict], compared: dict
) -> None:
    cases = compared["cases"]
    assert cases["paired"], cases["reason"]
    n = pair[0]["result"]["fine_tuned_metrics"]["n_cases"]
    a_right, b_right = cases["a_right_b_wrong"], cases["b_right_a_wrong"]
    accuracy = next(r for r in compared["metrics"] if r["name"] == "task_accuracy")
    assert (b_right["count"] - a_right["count"]) / n == pytest.approx(accuracy["delta"])
    listed = [(c, "a") for c in a_right["data"]] + [(c, "b") for c in b_right["data"]]
    assert listed, "the two jobs routed every held-out case alike: nothing to check"
    models = {"a": pair[0]["model_id"], "b": pair[1]["model_id"]}
    for case, right in listed:
        for side, model in models.items():
            answer = client.post(f"/v1/models/{model}/responses", json={"input": case["input"]})
            assert answer.status_code == 200, answer.text
            routed = answer.json()["task_type"] == case["expected_type"]
            assert routed == (side == right), (side, case, answer.json())


def test_a_missing_job_is_404_naming_it_and_a_job_without_result_409(
    client: ApiClient, pair: tuple[dict, dict]
) -> None:
    a = pair[0]["id"]
    gone = "ftjob-" + "0" * 24
    missing = client.get(f"/v1/jobs/{a}/compare", params={"with": gone})
    assert_problem(missing, 404)
    assert gone in missing.json()["errors"]["with"][0]
    malformed = client.get(f"/v1/jobs/{a}/compare", params={"with": "nope"})
    assert_problem(malformed, 404)
    assert "nope" in malformed.json()["errors"]["with"][0]
    assert_problem(client.get(f"/v1/jobs/{gone}/compare", params={"with": a}), 404)
    unnamed = client.get(f"/v1/jobs/{a}/compare")
    assert_problem(unnamed, 422)
    assert "with" in unnamed.json()["errors"]
    failed = client.post(
        "/v1/jobs", json={"task_types": ["none" + TAG], "include_synthetic": False}
    )
    assert failed.status_code == 202, failed.text
    conflict = client.get(f"/v1/jobs/{a}/compare", params={"with": failed.json()["id"]})
    assert_problem(conflict, 409)
    assert "no result" in conflict.json()["errors"]["with"][0]


def test_the_cli_prints_every_section_and_its_json_is_the_apis(
    stack: Stack, pair: tuple[dict, dict], compared: dict
) -> None:
    a, b = pair
    text = ok(tuneloop(stack, "jobs", "compare", a["id"], b["id"]))
    for section in (
        "Loss per epoch",
        "Configuration differences",
        "request.hyperparameters.n_epochs",
        "Metrics of the fine-tuned agents",
        "paired_bootstrap",
        "Per task type",
        "A right, B wrong",
        "B right, A wrong",
    ):
        assert section in text, (section, text)
    raw = json.loads(ok(tuneloop(stack, "jobs", "compare", a["id"], b["id"], "--json")))
    assert raw == compared


def test_short_ids_name_the_jobs_on_the_cli_and_the_page(
    stack: Stack, pair: tuple[dict, dict], compared: dict
) -> None:
    a, b = pair
    short_a, short_b = a["id"][:12], b["id"][:12]
    raw = json.loads(ok(tuneloop(stack, "jobs", "compare", short_a, short_b, "--json")))
    assert raw == compared
    with requests.Session() as browser:
        assert login(browser, stack.base_url).status_code == 303
        page = browser.get(
            f"{stack.base_url}/ui/compare", params={"a": short_a, "b": short_b}, timeout=30
        )
        assert page.history and page.history[0].status_code == 303
        assert page.url.endswith(f"/ui/compare?a={a['id']}&b={b['id']}"), page.url
        assert page.status_code == 200 and "Configuration differences" in page.text
        # "ftjob-" starts every fine-tuning job: the field that holds it lists candidates.
        ambiguous = browser.get(
            f"{stack.base_url}/ui/compare", params={"a": "ftjob-", "b": b["id"]}, timeout=30
        )
        assert ambiguous.status_code == 300, ambiguous.text[:300]
        listed = re.search(r"starts (\d+) job ids", html.unescape(ambiguous.text))
        assert listed and int(listed.group(1)) >= 2, ambiguous.text[:2000]
