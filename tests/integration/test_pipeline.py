"""A whole fine-tuning job through HTTP: rated data in, a better model and a true report out."""

import json
import re
import socket
from collections import Counter

import pytest

from tuneloop import graph
from tuneloop.stages.prepare import HOLDOUT as HOLDOUT_SIDE
from tuneloop.stages.prepare import TRAIN, VALIDATION, side_of

from .support import (
    STAGES,
    ApiClient,
    Stack,
    all_events,
    assert_problem,
    is_finite_number,
    reset_store,
    wait_for_job,
    wait_until,
)

pytestmark = pytest.mark.integration

# Ten task types, each with its own vocabulary. The baseline's keywords route "weather" and
# "travel" right (every word there starts with one of them) and the other eight, which share
# no word with them, to "general": the baseline scores above 0, and not by chance.
VOCABULARY = {
    "weather": ["rain", "forecasts", "sunny", "cloudy", "temperature", "rainbows", "weather"],
    "travel": ["flights", "hotels", "trips", "vacations", "booking", "travel", "travellers"],
    "cooking": ["risotto", "lasagna", "dumplings", "paella", "brownies", "omelette", "gnocchi"],
    "finance": ["mortgage", "dividend", "portfolio", "invoice", "pension", "annuity", "loan"],
    "fitness": ["squats", "deadlifts", "pushups", "marathon", "yoga", "cardio", "pilates"],
    "gardening": ["tomatoes", "roses", "compost", "tulips", "hedges", "seedlings", "orchids"],
    "coding": ["python", "recursion", "compiler", "regex", "docker", "kubernetes", "git"],
    "music": ["guitar", "piano", "violin", "chords", "drums", "melody", "saxophone"],
    "pets": ["puppy", "kitten", "hamster", "parrot", "goldfish", "terrier", "leash"],
    "astronomy": ["telescope", "nebula", "comet", "galaxy", "eclipse", "asteroid", "supernova"],
}
POSTED_TEMPLATES = [
    "How do I get started with {w}?",
    "What is the best advice about {w} for a beginner?",
    "Can you explain {w} in simple terms?",
]
HELD_OUT_TEMPLATES = [
    "Please give me a short guide to {w}.",
    "Tell me something useful about {w} today.",
]
RATINGS = [0.95, 0.85, 0.9, 0.5, 0.82, 0.7, 1.0, 0.3, 0.88, 0.79, 0.8]
MIN_SCORE = 0.8
N_EPOCHS = 5
HOLDOUT = 0.3
# On inputs it never saw (0.72 with this seed): chance is 0.1, the baseline gets 0.2.
TUNED_ACCURACY = 0.6


def generate() -> tuple[list[dict], list[dict]]:
    """Return the rated interactions to post and an eval set built from held-out templates."""
    items, i = [], 0
    for task, words in VOCABULARY.items():
        for t, template in enumerate(POSTED_TEMPLATES):
            for word in words:
                items.append(
                    {
                        "input": template.format(w=word),
                        "output": f"A {task} answer about {word}, variant {t}: start small.",
                        "rating": RATINGS[i % len(RATINGS)],
                        "task_type": task,
                        "source": "human",
                        "metadata": {"template": t},
                    }
                )
                i += 1
    eval_set = [
        {
            "input": template.format(w=word),
            "expected_type": task,
            "reference_output": f"A {task} answer about {word}, variant 0: start small.",
        }
        for task, words in VOCABULARY.items()
        for template in HELD_OUT_TEMPLATES
        for word in words
    ]
    return items, eval_set


def job_request(eval_set: list[dict]) -> dict:
    return {
        "min_score": MIN_SCORE,
        "include_synthetic": False,
        "task_types": sorted(VOCABULARY),
        "holdout_fraction": HOLDOUT,
        "eval_set": eval_set,
        "hyperparameters": {"n_epochs": N_EPOCHS, "learning_rate": 0.5, "batch_size": 8, "seed": 7},
        "suffix": "itest",
        "metadata": {"purpose": "integration"},
    }


@pytest.fixture(scope="module")
def dataset(client: ApiClient, stack: Stack) -> dict:
    """Start from an empty store (worker idle), then post the generated interactions."""
    reset_store(stack)
    items, eval_set = generate()
    posted_inputs = {item["input"] for item in items}
    assert not posted_inputs & {case["input"] for case in eval_set}, "eval inputs were posted"
    single = client.post("/v1/interactions", json=items[0])
    assert single.status_code == 201, single.text
    batch = client.post("/v1/interactions/batch", json={"items": items[1:]})
    assert batch.status_code == 201, batch.text
    assert batch.json()["count"] == len(items) - 1
    assert client.get("/v1/interactions/stats").json()["count"] == len(items)
    return {"items": items, "eval_set": eval_set, "request": job_request(eval_set)}


@pytest.fixture(scope="module")
def job(client: ApiClient, stack: Stack, dataset: dict) -> dict:
    """The first job over the data set, run to the end."""
    created = client.post("/v1/jobs", json=dataset["request"])
    assert created.status_code == 202, created.text[:500]
    body = created.json()
    assert body["status"] == "queued" and body["id"].startswith("ftjob-")
    assert created.headers["Location"].endswith(f"/v1/jobs/{body['id']}")
    assert body["progress"] == {"current": 0, "total": len(STAGES) + N_EPOCHS, "percent": 0.0}
    return wait_for_job(client, stack, body["id"])


@pytest.fixture(scope="module")
def events(client: ApiClient, job: dict) -> list[dict]:
    return all_events(client, job["id"])


def test_training_data_totals_match_what_was_posted_and_filtered(job: dict, dataset: dict) -> None:
    items = dataset["items"]
    low = [x for x in items if x["rating"] < MIN_SCORE]
    assert 0 < len(low) < len(items)
    kept = Counter(x["task_type"] for x in items if x["rating"] >= MIN_SCORE)
    data = job["result"]["training_data"]
    assert data["dropped"] == {"below_min_score": len(low)}
    sides = ("total_examples", "validation_examples", "holdout_examples")
    assert sum(data[side] for side in sides) == len(items) - len(low)
    assert sum(data["task_distribution"].values()) == data["total_examples"]
    assert sum(data["validation_distribution"].values()) == data["validation_examples"]
    assert sum(data["holdout_distribution"].values()) == data["holdout_examples"]
    seed = job["request"]["hyperparameters"]["seed"]
    for task, n in kept.items():
        counted = {
            side: data[name].get(task, 0)
            for side, name in (
                (TRAIN, "task_distribution"),
                (VALIDATION, "validation_distribution"),
                (HOLDOUT_SIDE, "holdout_distribution"),
            )
        }
        assert sum(counted.values()) == n, task
        expected = Counter(
            side_of(x["input"], seed, HOLDOUT)
            for x in items
            if x["task_type"] == task and x["rating"] >= MIN_SCORE
        )
        assert counted == {s: expected.get(s, 0) for s in counted}, f"{task}: the split says"
    assert abs(data["holdout_examples"] / sum(kept.values()) - HOLDOUT) < 0.1
    assert set(data["task_distribution"]) == set(VOCABULARY)


def test_every_stage_reports_started_and_finished_in_pipeline_order(events: list[dict]) -> None:
    position: dict[tuple[str, str], int] = {}
    for i, event in enumerate(events):
        if event["type"] in ("stage.started", "stage.finished"):
            key = (event["type"], event["data"]["stage"])
            assert key not in position, f"{key} reported twice"
            position[key] = i
    for stage in STAGES:
        assert ("stage.started", stage) in position, stage
        assert ("stage.finished", stage) in position, stage
        assert position[("stage.started", stage)] < position[("stage.finished", stage)]
    # The workers run on this machine: each start names its host, to find a stage's worker.
    hosts = {e["data"]["host"] for e in events if e["type"] == "stage.started"}
    assert hosts == {socket.gethostname()}
    for stage in STAGES:  # every stage starts after all it needs have finished
        for need in graph.NEEDS[stage]:
            assert position[("stage.finished", need)] < position[("stage.started", stage)], (
                need,
                stage,
            )
    assert graph.NEEDS["fine_tune"] == ("embed",) and graph.NEEDS["embed"] == ("prepare",)
    assert not [e for e in events if e["level"] == "error" or e["type"] == "job.failed"]


def test_fine_tuning_reports_one_metrics_event_per_epoch_with_finite_losses(
    job: dict, events: list[dict]
) -> None:
    metrics = [e for e in events if e["type"] == "metrics"]
    assert len(metrics) == N_EPOCHS
    assert [m["data"]["epoch"] for m in metrics] == list(range(1, N_EPOCHS + 1))
    for m in metrics:
        assert is_finite_number(m["data"]["train_loss"]) and m["data"]["train_loss"] >= 0, m
        assert is_finite_number(m["data"]["valid_loss"]) and m["data"]["valid_loss"] >= 0, m
    assert job["result"]["epochs"] == [m["data"] for m in metrics]
    assert metrics[-1]["data"]["train_loss"] < metrics[0]["data"]["train_loss"]


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_event_pages_return_each_event_exactly_once_in_order(
    client: ApiClient, job: dict, events: list[dict], limit: int
) -> None:
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": limit, **({"after": after} if after else {})}
        response = client.get(f"/v1/jobs/{job['id']}/events", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        assert len(page["data"]) <= limit
        seen += page["data"]
        if not page["has_more"]:
            break
        assert len(page["data"]) == limit, page
        after = page["data"][-1]["id"]
        assert pages < 1000
    assert seen == events
    ids = [e["id"] for e in seen]
    assert len(set(ids)) == len(ids)
    as_numbers = [tuple(int(p) for p in i.split("-")) for i in ids]
    assert as_numbers == sorted(as_numbers)
    assert pages == -(-len(events) // limit)  # a full last page already says has_more false
    tail = client.get(f"/v1/jobs/{job['id']}/events", params={"after": ids[-1]}).json()
    assert tail["data"] == [] and tail["has_more"] is False


def test_a_succeeded_job_reports_full_progress_and_its_result(job: dict) -> None:
    total = len(STAGES) + N_EPOCHS
    assert job["status"] == "succeeded"
    assert job["progress"] == {"current": total, "total": total, "percent": 100.0}
    assert job["error"] is None
    assert job["model_id"] == job["result"]["model_id"]
    assert job["model_id"].startswith("ft-itest-")
    assert job["finished_at"] >= job["created_at"]
    assert job["request"]["hyperparameters"]["n_epochs"] == N_EPOCHS


def test_the_fine_tuned_model_beats_the_baseline_on_the_held_out_evaluation(
    job: dict, dataset: dict
) -> None:
    result = job["result"]
    base, tuned = result["baseline_metrics"], result["fine_tuned_metrics"]
    n_cases = len(dataset["eval_set"]) + result["training_data"]["holdout_examples"]
    assert base["n_cases"] == tuned["n_cases"] == n_cases
    assert base["by_task_type"]["weather"]["task_accuracy"] == 1.0, base["by_task_type"]
    assert 0.1 < base["task_accuracy"] < 0.3, base  # two task types of ten, and only those
    assert tuned["task_accuracy"] >= TUNED_ACCURACY > base["task_accuracy"], (tuned, base)
    change = result["improvement"]["task_accuracy"]
    assert change["absolute"] == pytest.approx(tuned["task_accuracy"] - base["task_accuracy"])
    if base["task_accuracy"]:
        assert change["relative"] == pytest.approx(change["absolute"] / base["task_accuracy"])
    else:
        assert change["relative"] is None
    for name in ("average_confidence", "response_quality", "overall_score"):
        assert result["improvement"][name]["absolute"] == pytest.approx(tuned[name] - base[name])
    for metrics in (base, tuned):
        for name in ("task_accuracy", "response_quality", "overall_score", "average_confidence"):
            assert 0.0 <= metrics[name] <= 1.0, (name, metrics)
        assert set(metrics["by_task_type"]) == set(VOCABULARY)
    assert len(result["examples"]) == 10
    assert result["examples"][0]["input"] == dataset["eval_set"][0]["input"]


def test_the_fine_tuned_model_is_listed_and_described(client: ApiClient, job: dict) -> None:
    listed = client.get("/v1/models")
    assert listed.status_code == 200, listed.text
    ids = [m["id"] for m in listed.json()["data"]]
    assert ids[0] == "tuneloop-keyword-baseline"
    assert job["model_id"] in ids
    model = client.get(f"/v1/models/{job['model_id']}")
    assert model.status_code == 200, model.text
    described = model.json()
    assert described["job_id"] == job["id"]
    assert described["base_model"] == "tuneloop-keyword-baseline"
    assert sorted(described["task_types"]) == sorted(VOCABULARY)
    assert described["training_examples"] == job["result"]["training_data"]["total_examples"]


def test_the_fine_tuned_model_answers_with_a_task_type_from_the_data(
    client: ApiClient, job: dict
) -> None:
    response = client.post(
        f"/v1/models/{job['model_id']}/responses",
        json={"input": "Any thoughts on the saxophone for my weekend?"},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["task_type"] in VOCABULARY
    assert answer["text"].strip()
    assert 0.0 < answer["confidence"] <= 1.0
    assert answer["reasoning"].startswith(f"routed to '{answer['task_type']}'")


def test_the_baseline_model_answers_by_keyword(client: ApiClient) -> None:
    response = client.post(
        "/v1/models/tuneloop-keyword-baseline/responses", json={"input": "Will it rain in Oslo?"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["task_type"] == "weather"
    assert response.json()["confidence"] == pytest.approx(0.75)


def test_the_training_file_is_chat_jsonl_with_one_line_per_training_example(
    client: ApiClient, job: dict, dataset: dict
) -> None:
    response = client.get(f"/v1/jobs/{job['id']}/training_file")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/jsonl")
    lines = response.text.splitlines()
    assert response.text.endswith("\n")
    posted = {(x["input"], x["output"]) for x in dataset["items"] if x["rating"] >= MIN_SCORE}
    pairs = set()
    for line in lines:
        messages = json.loads(line)["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant"]
        pairs.add((messages[0]["content"], messages[1]["content"]))
    assert len(pairs) == len(lines)
    assert pairs <= posted
    # Only the training side: none of the held-out rows the job was scored on, nor the
    # validation rows it chose its epoch on.
    seed = job["request"]["hyperparameters"]["seed"]
    sides = {x["input"]: side_of(x["input"], seed, HOLDOUT) for x in dataset["items"]}
    assert {sides[i] for i, _ in pairs} == {TRAIN}
    assert {i for i, _ in pairs} == {i for i, _ in posted if sides[i] == TRAIN}
    assert len(lines) == job["result"]["training_data"]["total_examples"]


def test_the_job_is_listed_newest_first_and_by_status(
    client: ApiClient, stack: Stack, job: dict, dataset: dict
) -> None:
    # A newer job that fails: it selects a task type none of the data has.
    request = {**dataset["request"], "task_types": ["pipeline-no-such-type"]}
    created = client.post("/v1/jobs", json=request)
    assert created.status_code == 202, created.text[:300]
    newer = wait_for_job(client, stack, created.json()["id"], expect="failed")["id"]
    listed = client.get("/v1/jobs").json()  # the store held only `job` before this test
    assert [j["id"] for j in listed["data"]] == [newer, job["id"]]
    by_status = {
        status: [j["id"] for j in client.get("/v1/jobs", params={"status": status}).json()["data"]]
        for status in ("succeeded", "failed", "queued")
    }
    assert by_status == {"succeeded": [job["id"]], "failed": [newer], "queued": []}
    one = client.get("/v1/jobs", params={"limit": 1}).json()
    assert [j["id"] for j in one["data"]] == [newer] and one["has_more"] is True
    rest = client.get("/v1/jobs", params={"limit": 1, "after": newer}).json()
    assert [j["id"] for j in rest["data"]] == [job["id"]] and rest["has_more"] is False


def test_the_same_request_and_seed_give_identical_metrics(
    client: ApiClient, stack: Stack, dataset: dict, job: dict
) -> None:
    ids = []
    for _ in range(2):  # two at once: they run side by side on the two worker processes
        created = client.post("/v1/jobs", json=dataset["request"])
        assert created.status_code == 202, created.text[:300]
        ids.append(created.json()["id"])
    again = [wait_for_job(client, stack, jid) for jid in ids]
    keys = ("training_data", "baseline_metrics", "fine_tuned_metrics", "improvement", "epochs")
    for other in again:
        assert other["model_id"] != job["model_id"]
        for key in keys:
            assert other["result"][key] == job["result"][key], key
        assert other["result"]["examples"] == job["result"]["examples"]


def test_the_training_file_of_an_unknown_job_is_a_404_problem(client: ApiClient) -> None:
    assert_problem(client.get("/v1/jobs/ftjob-nothing/training_file"), 404)


def test_every_stage_task_of_the_job_ends_in_a_final_celery_state(job: dict, stack: Stack) -> None:
    """The join's losing branch ends SUCCESS (it raised Ignore before: STARTED for ever)."""
    pattern = rf"Task tuneloop\.stages\.(\w+)\[([0-9a-f-]+)\] succeeded in [^:]+: '{job['id']}'"

    def done() -> list[tuple[str, str]]:
        return re.findall(pattern, stack.log_text("worker"))

    # collect, filter, prepare, embed, evaluate_baseline, fine_tune, evaluate_fine_tuned of
    # both branches, and one compare: the branch that finishes first stops at the join. The
    # job can end before the losing branch's task has logged its end: wait for the line.
    wait_until(
        lambda: len({task_id for _, task_id in done()}) >= 9,
        30.0,
        lambda: f"nine stage tasks of {job['id']} to log their end: {sorted(done())}",
    )
    assert len({task_id for _, task_id in done()}) == 9, sorted(done())
    log = stack.log_text("worker")
    assert sorted(stage for stage, _ in done()).count("evaluate_fine_tuned") == 2
    assert not re.search(r"Task tuneloop\.stages\.\w+\[[0-9a-f-]+\] ignored", log)
