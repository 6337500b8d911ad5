"""The sentence-encoder format (tuneloop.encoder/1) through the API, on its own stack.

Four Banking77 intents (tests/fixtures/banking77-4) are posted; the same request is run with
the n-gram agent's base model and with tuneloop-e5-small. The encoder job's model has the
encoder format, its report has the n-gram report's shape (per-task figures, intervals,
calibration, the promotion gate), and the model answers through the API naming its nearest
example and that example's similarity.
"""

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuneloop.encoder.spec import BASE_MODEL, FORMAT

from .support import ApiClient, Stack, client_for, full_stack, wait_for_job

pytestmark = pytest.mark.integration

BANKING77 = Path(__file__).resolve().parents[1] / "fixtures" / "banking77-4"
NGRAM = "tuneloop-keyword-baseline"


def rows(name: str) -> list[dict]:
    """Return a split of the four-intent subset as rated interactions."""
    with (BANKING77 / name).open(newline="") as f:
        return [
            {
                "input": r["text"],
                "output": f"About {r['category'].replace('_', ' ')}: here is how.",
                "rating": 0.9,
                "task_type": r["category"],
            }
            for r in csv.DictReader(f)
        ]


@pytest.fixture(scope="module")
def encoder_stack() -> Iterator[tuple[Stack, ApiClient]]:
    """A stack of its own, the four intents' training rows posted."""
    with full_stack("tuneloop-encoder-") as stack, client_for(stack) as client:
        stack.wait_worker("worker")
        posted = client.post("/v1/interactions/batch", json={"items": rows("train.csv")})
        assert posted.status_code == 201, posted.text[:300]
        yield stack, client


def run(encoder_stack: tuple[Stack, ApiClient], model: str) -> dict:
    """Run the job of the given base model over the posted rows and the test split; return it."""
    stack, client = encoder_stack
    cases = [{"input": r["input"], "expected_type": r["task_type"]} for r in rows("test.csv")]
    gate = [{"metric": "task_accuracy", "min_delta": 0.2, "use_lower_bound": True}]
    body = {"model": model, "eval_set": cases, "include_synthetic": False, "promote_if": gate}
    created = client.post("/v1/jobs", json=body)
    assert created.status_code == 202, created.text[:300]
    job = wait_for_job(client, stack, created.json()["id"], timeout=300)
    assert job["status"] == "succeeded", job.get("error")
    return job


@pytest.fixture(scope="module")
def jobs(encoder_stack: tuple[Stack, ApiClient]) -> dict[str, dict]:
    """The n-gram job and the encoder job over the same rows and eval set."""
    return {model: run(encoder_stack, model) for model in (NGRAM, BASE_MODEL)}


def test_the_models_list_shows_the_encoder_base_model(encoder_stack) -> None:
    _, client = encoder_stack
    listed = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert listed[BASE_MODEL]["format"] == FORMAT
    asked = client.post(f"/v1/models/{BASE_MODEL}/responses", json={"input": "my card?"})
    assert asked.status_code == 400 and "fine-tune it first" in asked.text


def test_an_encoder_job_trains_a_model_of_the_encoder_format(encoder_stack, jobs) -> None:
    _, client = encoder_stack
    job = jobs[BASE_MODEL]
    model = client.get(f"/v1/models/{job['model_id']}").json()
    assert model["format"] == FORMAT
    assert model["base_model"] == BASE_MODEL
    assert model["neighbours"]["rows"] > 0 and model["encoder"]["dim"] == 384
    accuracy = job["result"]["fine_tuned_metrics"]["task_accuracy"]
    assert accuracy > job["result"]["baseline_metrics"]["task_accuracy"]
    assert accuracy >= 0.9  # four distinct intents: an encoder that learned nothing is at 0.25


def test_the_encoder_report_has_the_ngram_reports_shape(jobs) -> None:
    ngram, encoder = jobs[NGRAM]["result"], jobs[BASE_MODEL]["result"]
    assert set(encoder) >= set(ngram) - {"embedding"}
    for part in ("classification", "significance", "promotion", "improvement"):
        assert set(encoder[part]) == set(ngram[part]), part
    assert set(encoder["fine_tuned_metrics"]) == set(ngram["fine_tuned_metrics"])
    assert encoder["fine_tuned_metrics"]["ci95"]["task_accuracy"] is not None
    assert encoder["promotion"]["promoted"] is True  # the gate passed: accuracy far up


def test_the_encoder_model_answers_naming_its_nearest_example(encoder_stack, jobs) -> None:
    _, client = encoder_stack
    model_id = jobs[BASE_MODEL]["model_id"]
    asked = client.post(
        f"/v1/models/{model_id}/responses", json={"input": "my new card has still not come"}
    )
    assert asked.status_code == 200, asked.text[:300]
    answer = asked.json()
    assert answer["task_type"] == "card_arrival"
    assert "the nearest by meaning: " in answer["reasoning"]
    assert "(similarity 0." in answer["reasoning"]
