"""Issue #9 end to end: out-of-scope abstention, calibration, regressions, promotion, evaluations.

One fine-tuning job over four task types (one of them out-of-scope) runs on the session's real
worker; its report, its cases, its promoted model and evaluation jobs of that model are then
read through the gateway as a user would.
"""

import pytest

from tuneloop import contracts, graph
from tuneloop.schemas.jobs import MAX_EVAL_SET

from .support import ApiClient, Stack, assert_problem, reset_store, training_items, wait_for_job

pytestmark = pytest.mark.integration

OOS = "oos"
CHATTER = ["tell me a joke", "who won the match", "sing a song", "what is love", "hello there"]
BASELINE = contracts.BASELINE_MODEL_ID


def out_of_scope_items(n: int) -> list[dict]:
    """Rated interactions that belong to no task: small talk."""
    return [
        {
            "input": f"{CHATTER[i % len(CHATTER)]} number {i}",
            "output": "Sorry, I can only help with weather, travel and billing.",
            "rating": 0.9,
            "task_type": OOS,
        }
        for i in range(n)
    ]


def eval_cases() -> list[dict]:
    """Cases the agent never trained on: each task type's words in new sentences."""
    cases = []
    for i, item in enumerate(training_items(6) + out_of_scope_items(6)):
        words = item["input"].replace("Question", "Quick query").replace("number", "please, no.")
        cases.append(
            {
                "input": f"{words} (case {i})",
                "expected_type": item["task_type"],
                "reference_output": item["output"],
            }
        )
    return cases


def post_job(client: ApiClient, **request: object) -> dict:
    """Create a fine-tuning job over the stored interactions and wait for it to succeed."""
    body = {
        "include_synthetic": False,
        "eval_set": eval_cases(),
        "out_of_scope_task": OOS,
        "hyperparameters": {"n_epochs": 6, "early_stopping_patience": None},
        **request,
    }
    created = client.post("/v1/jobs", json=body)
    assert created.status_code == 202, created.text
    return created.json()


def post_evaluation(client: ApiClient, stack: Stack, **request: object) -> dict:
    """Create an evaluation job and wait for it to succeed."""
    created = client.post("/v1/evaluations", json={"eval_set": eval_cases(), **request})
    assert created.status_code == 202, created.text
    body = created.json()
    assert created.headers["Location"].endswith(f"/v1/jobs/{body['id']}")
    return wait_for_job(client, stack, body["id"])


@pytest.fixture(scope="module")
def promoted(client: ApiClient, stack: Stack) -> dict:
    """A job whose model passes its gate (accuracy up by at least 0.2 on the lower bound)."""
    reset_store(stack)
    items = training_items(20) + out_of_scope_items(20)
    stored = client.post("/v1/interactions/batch", json={"items": items})
    assert stored.status_code == 201, stored.text
    gate = [{"metric": "task_accuracy", "min_delta": 0.2, "use_lower_bound": True}]
    job = post_job(client, promote_if=gate)
    return wait_for_job(client, stack, job["id"])


def pages(client: ApiClient, job_id: str, outcome: str, limit: int = 3) -> list[dict]:
    """Read every case of an outcome, page by page."""
    found: list[dict] = []
    after: int | None = None
    while True:
        params = {"outcome": outcome, "limit": limit, **({"after": after} if found else {})}
        response = client.get(f"/v1/jobs/{job_id}/cases", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["data"]) <= limit
        found += page["data"]
        if not page["has_more"]:
            return found
        after = page["data"][-1]["index"]


def test_the_fine_tuned_agent_abstains_on_out_of_scope_inputs(promoted: dict) -> None:
    result = promoted["result"]
    scope = result["out_of_scope"]
    assert scope["task"] == OOS
    assert scope["threshold"] == result["abstention"]["threshold"]
    assert result["abstention"]["chosen_by"] == "validation"
    tuned, base = scope["fine_tuned"], scope["baseline"]
    assert (tuned["n_in_scope"], tuned["n_out_of_scope"]) == (18, 6)
    assert base["out_of_scope_recall"] == 0.0  # the keyword agent has no such task
    assert tuned["out_of_scope_recall"] > 0.5, scope
    assert tuned["in_scope_accuracy"] > base["in_scope_accuracy"], scope


def test_calibration_bins_hold_every_case_of_both_agents(promoted: dict) -> None:
    result = promoted["result"]
    for agent in ("baseline", "fine_tuned"):
        calibration = result["calibration"][agent]
        bins = calibration["bins"]
        assert len(bins) == 10
        assert sum(b["count"] for b in bins) == result[f"{agent}_metrics"]["n_cases"]
        expected_ece = sum(
            b["count"] / 24 * abs(b["accuracy"] - b["mean_confidence"]) for b in bins if b["count"]
        )
        assert calibration["ece"] == pytest.approx(expected_ece)


def test_every_regressed_and_improved_case_is_listed_by_index(
    client: ApiClient, promoted: dict
) -> None:
    result = promoted["result"]
    mcnemar = result["significance"]["mcnemar"]
    improved = pages(client, promoted["id"], "improved")
    regressed = pages(client, promoted["id"], "regressed")
    assert len(improved) == result["cases"]["improved"] == mcnemar["fine_tuned_only_correct"] > 3
    assert len(regressed) == result["cases"]["regressed"] == mcnemar["baseline_only_correct"]
    inputs = {c["input"]: c for c in eval_cases()}
    for case in improved:
        assert case["fine_tuned"]["task_type"] == case["expected_type"]
        assert case["baseline"]["task_type"] != case["expected_type"]
        assert inputs[case["input"]]["expected_type"] == case["expected_type"]
        assert 0.0 <= case["baseline"]["confidence"] <= 1.0
    indexes = [c["index"] for c in improved]
    assert indexes == sorted(set(indexes))


def test_a_passed_gate_promotes_the_model_as_latest_promoted(
    client: ApiClient, promoted: dict
) -> None:
    promotion = promoted["result"]["promotion"]
    assert promotion["promoted"] is True, promotion
    assert promotion["checks"][0]["bound"] == "lower_ci95"
    alias = client.get("/v1/models/latest-promoted")
    assert alias.status_code == 200, alias.text
    assert alias.json()["id"] == promoted["model_id"]
    assert alias.json()["alias"]["job_id"] == promoted["id"]


def test_a_failed_gate_is_a_succeeded_job_that_promotes_nothing(
    client: ApiClient, stack: Stack, promoted: dict
) -> None:
    gate = [{"metric": "task_accuracy", "min_delta": 0.95}, {"metric": "macro_f1", "min_value": 0}]
    job = wait_for_job(client, stack, post_job(client, promote_if=gate, suffix="strict")["id"])
    promotion = job["result"]["promotion"]
    assert promotion["promoted"] is False
    assert [c["passed"] for c in promotion["checks"]] == [False, True]
    assert "task_accuracy" in promotion["reason"]
    alias = client.get("/v1/models/latest-promoted").json()
    assert alias["id"] == promoted["model_id"]


def test_an_evaluation_of_the_model_repeats_the_jobs_figures(
    client: ApiClient, stack: Stack, promoted: dict
) -> None:
    evaluation = post_evaluation(
        client, stack, model=promoted["model_id"], seed=42, out_of_scope_task=OOS
    )
    assert evaluation["kind"] == graph.EVALUATION
    assert evaluation["id"].startswith("evaljob-")
    result, job_result = evaluation["result"], promoted["result"]
    assert result["models"] == {"baseline": BASELINE, "fine_tuned": promoted["model_id"]}
    for part in ("baseline_metrics", "fine_tuned_metrics", "significance", "cases", "out_of_scope"):
        assert result[part] == job_result[part], part
    assert result["out_of_scope"]["curve"], "the model's trade-off on the cases"
    events = client.get(f"/v1/jobs/{evaluation['id']}/events", params={"limit": 100}).json()
    started = [e["data"]["stage"] for e in events["data"] if e["type"] == "stage.started"]
    assert sorted(started) == sorted(graph.stages_of(graph.EVALUATION))


def test_an_evaluation_compares_two_models_named_by_id_and_alias(
    client: ApiClient, stack: Stack, promoted: dict
) -> None:
    other = client.get("/v1/models").json()["data"]
    strict = next(m["id"] for m in other if m["id"].startswith("ft-strict-"))
    evaluation = post_evaluation(client, stack, model_a=strict, model_b="latest-promoted")
    request = evaluation["request"]
    assert (request["model_a"], request["model_b"]) == (strict, promoted["model_id"])
    assert request["aliases"] == {"model_b": "latest-promoted"}
    assert evaluation["result"]["models"]["baseline"] == strict
    listed = client.get("/v1/jobs", params={"kind": graph.EVALUATION, "limit": 100}).json()
    assert evaluation["id"] in {j["id"] for j in listed["data"]}
    assert {j["kind"] for j in listed["data"]} == {graph.EVALUATION}


def test_an_evaluation_job_can_be_cancelled(client: ApiClient, stack: Stack) -> None:
    request = {"model_a": BASELINE, "model_b": "x", "eval_set": eval_cases(), "seed": 1}
    job = stack.store.jobs.create(request, 0, 4, kind=graph.EVALUATION)  # never queued
    response = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == contracts.CANCELLED


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/jobs", {"promote_if": [{"metric": "acc", "min_delta": 0.1}]}, "promote_if[0].metric"),
        ("/v1/jobs", {"promote_if": [{"metric": "macro_f1"}]}, "promote_if[0]"),
        ("/v1/jobs", {"out_of_scope_task": "nowhere"}, "out_of_scope_task"),
        ("/v1/jobs", {"abstain_threshold": 0.5}, "abstain_threshold"),
        ("/v1/evaluations", {"model": "no-such-model", "eval_set": eval_cases()}, "model_b"),
        ("/v1/evaluations", {"model": BASELINE, "eval_set": eval_cases()}, "model_b"),
        (
            "/v1/evaluations",
            {"model": "latest-promoted", "model_a": "latest-promoted", "eval_set": eval_cases()},
            "model",
        ),
        ("/v1/evaluations", {"model_b": "latest-promoted"}, "eval_set"),
        (
            "/v1/evaluations",
            {"model": "latest-promoted", "eval_set": eval_cases() * (MAX_EVAL_SET // 24 + 1)},
            "eval_set",
        ),
        (
            "/v1/evaluations",
            {"model": "latest-promoted", "eval_set": eval_cases(), "out_of_scope_task": "x"},
            "out_of_scope_task",
        ),
    ],
)
def test_bad_requests_name_the_problem_and_store_nothing(
    client: ApiClient, stack: Stack, promoted: dict, path: str, body: dict, field: str
) -> None:
    before = stack.store.jobs.count()
    assert_problem(client.post(path, json=body), 422, [field])
    assert stack.store.jobs.count() == before


def test_comparing_a_model_with_itself_through_its_alias_is_refused(
    client: ApiClient, stack: Stack, promoted: dict
) -> None:
    body = {"model_a": promoted["model_id"], "model_b": "latest-promoted", "eval_set": eval_cases()}
    before = stack.store.jobs.count()
    problem = assert_problem(client.post("/v1/evaluations", json=body), 422, ["model_b"])
    assert "itself" in problem["detail"]
    assert stack.store.jobs.count() == before
