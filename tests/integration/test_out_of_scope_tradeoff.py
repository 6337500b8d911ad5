"""Issue #23, item 10: the abstention threshold kept within max_in_scope_loss, and its curve.

One fine-tuning job over five task types and an out-of-scope one runs on the session's real
worker. Its saved model is then loaded from the store and its validation rows (found with the
split, not the job's figures) are counted by hand: the chosen threshold must lose at most the
limit of in-scope accuracy there, and no threshold within the limit may recall more.
"""

import random
import re

import pytest

from tuneloop.report.tradeoff import curve_thresholds
from tuneloop.stages.prepare import VALIDATION, side_of

from .support import API_KEY, ApiClient, Stack, assert_problem, reset_store, wait_for_job

pytestmark = pytest.mark.integration

OOS, MAX_LOSS = "oos", 0.03
TOPICS = {
    "weather": ["rain", "snow", "wind", "storm", "forecast", "cloudy"],
    "travel": ["flight", "train", "hotel", "visa", "airport", "luggage"],
    "billing": ["invoice", "refund", "charge", "payment", "receipt", "card"],
    "cooking": ["recipe", "oven", "garlic", "flour", "bake", "pasta"],
    "fitness": ["gym", "run", "squat", "yoga", "stretch", "cardio"],
}
FILLER = [
    "please",
    "can",
    "you",
    "help",
    "me",
    "with",
    "my",
    "the",
    "a",
    "about",
    "question",
    "need",
    "some",
    "info",
    "on",
    "today",
]


def items(seed: int, per_task: int, n_oos: int, tag: str) -> list[dict]:
    """Return rows the router is unsure of now and then, in scope and out of scope alike."""
    # in scope: two words of the task, a third of any task now and then; out of scope: filler
    # and one word of any task
    rng, tasks, out = random.Random(seed), sorted(TOPICS), []
    for i in range(per_task * len(tasks) + n_oos):
        task = tasks[i % len(tasks)] if i < per_task * len(tasks) else OOS
        words = rng.sample(FILLER, rng.randint(2, 4))
        if task == OOS:
            words.append(rng.choice(TOPICS[rng.choice(tasks)]))
        else:
            words += rng.sample(TOPICS[task], 2)
            if rng.random() < 0.3:
                words.append(rng.choice(TOPICS[rng.choice(tasks)]))
        rng.shuffle(words)
        text = f"{' '.join(words)} {tag} {i}"
        out.append(
            {"input": text, "output": f"{task} answer {i}", "rating": 0.9, "task_type": task}
        )
    return out


TRAINING = items(13, 40, 80, "row")
CASES = [
    {"input": r["input"], "expected_type": r["task_type"], "reference_output": r["output"]}
    for r in items(8, 10, 20, "case")
]


@pytest.fixture(scope="module")
def job(client: ApiClient, stack: Stack) -> dict:
    """The succeeded job, its threshold chosen on validation within MAX_LOSS."""
    reset_store(stack)
    stored = client.post("/v1/interactions/batch", json={"items": TRAINING})
    assert stored.status_code == 201, stored.text
    body = {
        "include_synthetic": False,
        "eval_set": CASES,
        "out_of_scope_task": OOS,
        "max_in_scope_loss": MAX_LOSS,
        "hyperparameters": {"n_epochs": 6, "early_stopping_patience": None},
    }
    created = client.post("/v1/jobs", json=body)
    assert created.status_code == 202, created.text
    return wait_for_job(client, stack, created.json()["id"])


def by_hand(tops: list[float], routed: list[str], truth: list[str], t: float) -> tuple:
    """Return (in-scope accuracy, out-of-scope recall) if the agent abstained under t."""
    final = [OOS if p < t and k != OOS else k for p, k in zip(tops, routed, strict=True)]
    pairs = list(zip(final, truth, strict=True))
    in_scope = [f == y for f, y in pairs if y != OOS]
    recalled = [f == OOS for f, y in pairs if y == OOS]
    return sum(in_scope) / len(in_scope), sum(recalled) / len(recalled)


@pytest.fixture(scope="module")
def validation(job: dict, stack: Stack) -> dict:
    """The saved model's routes of the job's validation rows, found with the split."""
    seed = job["request"]["hyperparameters"]["seed"]
    rows = [r for r in TRAINING if side_of(r["input"], seed, None) == VALIDATION]
    agent, _ = stack.store.models.load(job["result"]["model_id"])
    tops, routed = agent.route_many([r["input"] for r in rows])
    answers = agent.respond_many([r["input"] for r in rows])
    return {
        "tops": tops.tolist(),
        "routed": routed,
        "truth": [r["task_type"] for r in rows],
        "answered": [a.task_type for a in answers],
    }


def test_the_chosen_threshold_loses_at_most_the_limit_on_validation_and_recalls_most(
    job: dict, validation: dict
) -> None:
    abstention = job["result"]["abstention"]
    assert abstention["chosen_by"] == "validation"
    assert abstention["max_in_scope_loss"] == MAX_LOSS
    chosen = abstention["threshold"]
    tops, routed, truth = validation["tops"], validation["routed"], validation["truth"]
    # the agent abstains on validation exactly as counted here
    assert validation["answered"] == [
        OOS if p < chosen and k != OOS else k for p, k in zip(tops, routed, strict=True)
    ]
    never_accuracy, _ = by_hand(tops, routed, truth, 0.0)
    accuracy, recall = by_hand(tops, routed, truth, chosen)
    assert never_accuracy - accuracy <= MAX_LOSS + 1e-12
    figures = abstention["validation"]
    assert (figures["in_scope_accuracy"], figures["out_of_scope_recall"]) == pytest.approx(
        (accuracy, recall)
    )
    assert figures["in_scope_loss"] == pytest.approx(never_accuracy - accuracy)
    over_the_limit = False
    for t in sorted({0.0, 1.0, *tops}):
        other_accuracy, other_recall = by_hand(tops, routed, truth, t)
        if never_accuracy - other_accuracy <= MAX_LOSS + 1e-12:
            assert other_recall <= recall, (t, other_recall, chosen, recall)
        elif other_recall > recall:
            over_the_limit = True
    assert over_the_limit, "the limit must bind for this test to say anything"


def test_the_result_carries_the_validation_curve_with_no_abstention_and_the_chosen_point(
    job: dict, validation: dict
) -> None:
    abstention = job["result"]["abstention"]
    points = abstention["curve"]
    assert [p["threshold"] for p in points] == curve_thresholds(abstention["threshold"])
    tops, routed, truth = validation["tops"], validation["routed"], validation["truth"]
    never_accuracy, _ = by_hand(tops, routed, truth, 0.0)
    for point in points:
        accuracy, recall = by_hand(tops, routed, truth, point["threshold"])
        assert (point["in_scope_accuracy"], point["out_of_scope_recall"]) == pytest.approx(
            (accuracy, recall)
        )
        assert point["in_scope_loss"] == pytest.approx(never_accuracy - accuracy)
    [chosen] = [p for p in points if p["threshold"] == abstention["threshold"]]
    figures = abstention["validation"]
    assert chosen == {key: figures[key] for key in chosen if key != "threshold"} | {
        "threshold": abstention["threshold"]
    }


def test_the_curve_on_the_eval_cases_holds_what_the_agent_answered_and_no_abstention(
    job: dict, stack: Stack
) -> None:
    result = job["result"]
    scope, threshold = result["out_of_scope"], result["abstention"]["threshold"]
    assert scope["threshold"] == threshold
    points = {p["threshold"]: p for p in scope["curve"]}
    assert sorted(points) == curve_thresholds(threshold)
    answered = scope["fine_tuned"]  # from the agent's own answers to the cases
    assert points[threshold]["in_scope_accuracy"] == answered["in_scope_accuracy"]
    assert points[threshold]["out_of_scope_recall"] == answered["out_of_scope_recall"]
    agent, _ = stack.store.models.load(result["model_id"])
    tops, routed = agent.route_many([c["input"] for c in CASES])
    truth = [c["expected_type"] for c in CASES]
    never = by_hand(tops.tolist(), routed, truth, 0.0)
    assert (points[0.0]["in_scope_accuracy"], points[0.0]["out_of_scope_recall"]) == never


def test_the_job_page_shows_the_tradeoff_table_with_the_chosen_row(stack: Stack, job: dict) -> None:
    with ApiClient(stack.base_url) as browser:
        form = browser.get("/ui/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        data = {"csrf_token": token, "api_key": API_KEY, "next": "/ui/jobs"}
        assert browser.post("/ui/login", data=data, allow_redirects=False).status_code == 303
        page = browser.get(f"/ui/jobs/{job['id']}")
    assert page.status_code == 200, page.text
    html, threshold = page.text, job["result"]["abstention"]["threshold"]
    table = html[html.index('id="scope-table"') : html.index("</table>", html.index("scope-table"))]
    rows = re.findall(r'<tr data-threshold="([^"]+)"( class="chosen")?>', table)
    assert [float(t) for t, _ in rows] == curve_thresholds(threshold)
    assert [float(t) for t, chosen in rows if chosen] == [threshold]
    assert "never abstains" in table
    assert f"losing at most {MAX_LOSS} of in-scope accuracy" in html


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_in_scope_loss": 0.1}, "max_in_scope_loss"),  # no out_of_scope_task
        ({"out_of_scope_task": OOS, "max_in_scope_loss": -0.01}, "max_in_scope_loss"),
        ({"out_of_scope_task": OOS, "max_in_scope_loss": 1.5}, "max_in_scope_loss"),
        ({"out_of_scope_task": OOS, "max_in_scope_loss": "0.1"}, "max_in_scope_loss"),
        ({"out_of_scope_task": OOS, "max_in_scope_loss": True}, "max_in_scope_loss"),
        (
            {"out_of_scope_task": OOS, "max_in_scope_loss": 0.1, "abstain_threshold": 0.5},
            "max_in_scope_loss",
        ),
    ],
)
def test_a_bad_max_in_scope_loss_is_named_and_nothing_is_stored(
    client: ApiClient, stack: Stack, job: dict, body: dict, field: str
) -> None:
    before = stack.store.jobs.count()
    assert_problem(client.post("/v1/jobs", json=body), 422, [field])
    assert stack.store.jobs.count() == before
