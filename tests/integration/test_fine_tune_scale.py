"""Fine-tuning as #6 defines it, end to end: auto controls, early stopping, what a job keeps."""

import json
import random

import pytest

from tuneloop import contracts
from tuneloop.pipeline.fine_tune import model_id_for
from tuneloop.pipeline.runner import Limits, run_stage, work_of
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.stages.prepare import DEFAULT_VALIDATION_FRACTION, in_validation
from tuneloop.store import Store, keys
from tuneloop.store.blobs import CHUNK_BYTES

from .support import STAGES, ApiClient, Stack, assert_problem, reset_store, wait_for_job

pytestmark = pytest.mark.integration

TASKS = {
    "billing": ["invoice", "refund", "receipt", "charge"],
    "hiking": ["trail", "summit", "boots", "backpack"],
    "baking": ["sourdough", "croissant", "oven", "yeast"],
    "chess": ["opening", "endgame", "bishop", "gambit"],
}
TEMPLATES = ["Help me with my {w} please", "What do you know about {w}?", "Tips on {w} today"]


def rows() -> list[dict]:
    """Return 240 rated interactions over four task types, inputs all distinct."""
    rng, out = random.Random(3), []
    for task, words in TASKS.items():
        for i in range(60):
            word = rng.choice(words)
            out.append(
                {
                    "input": f"{rng.choice(TEMPLATES).format(w=word)} #{i}",
                    "output": f"For {task}: here is how {word} works.",
                    "rating": 0.9,
                    "task_type": task,
                }
            )
    return out


@pytest.fixture(scope="module")
def posted(client: ApiClient, stack: Stack) -> list[dict]:
    reset_store(stack)
    items = rows()
    response = client.post("/v1/interactions/batch", json={"items": items})
    assert response.status_code == 201, response.text[:300]
    return items


@pytest.fixture(scope="module")
def auto_job(client: ApiClient, stack: Stack, posted: list[dict]) -> dict:
    """A job that leaves every control to "auto" (defaults) but the seed."""
    created = client.post(
        "/v1/jobs",
        json={"include_synthetic": False, "lab_eval_set": True, "hyperparameters": {"seed": 5}},
    )
    assert created.status_code == 202, created.text[:300]
    assert created.json()["hyperparameters"]["n_epochs"] == "auto"
    return wait_for_job(client, stack, created.json()["id"])


def test_auto_controls_are_resolved_from_the_data_size_and_shown_in_the_job(
    auto_job: dict,
) -> None:
    n_train = auto_job["result"]["training_data"]["total_examples"]
    shown = auto_job["hyperparameters"]
    assert shown == auto_job["result"]["hyperparameters"]
    assert shown["batch_size"] == 16  # n / 300 < 1 -> the smallest power allowed
    assert shown["learning_rate"] == pytest.approx(0.2 * (16 / 32) ** 0.5, abs=1e-4)
    assert shown["n_epochs"] == min(30, max(3, -(-150_000 // n_train)))
    assert shown["seed"] == 5 and shown["early_stopping_patience"] == 3


def test_the_model_is_the_best_epoch_and_progress_counts_the_epochs_run(auto_job: dict) -> None:
    result = auto_job["result"]
    losses = [e["valid_loss"] for e in result["epochs"]]
    assert result["best_epoch"] == 1 + losses.index(min(losses))
    run, planned = len(losses), auto_job["hyperparameters"]["n_epochs"]
    assert result["stopped_early"] == (run < planned)
    if result["stopped_early"]:
        assert run == result["best_epoch"] + 3  # three epochs without a lower loss
    assert auto_job["progress"] == {
        "current": len(STAGES) + run,
        "total": len(STAGES) + run,
        "percent": 100.0,
    }


def test_a_finished_job_keeps_only_its_mask_model_and_record(auto_job: dict, stack: Stack) -> None:
    redis = stack.store.redis
    left = sorted(redis.scan_iter(match=f"{keys.PREFIX}:job:{auto_job['id']}:artifact:*"))
    mask = keys.artifact(auto_job["id"], "kept")
    assert left[0] == mask and all(k.startswith(mask + ":chunk:") for k in left[1:]), left
    model = stack.store.models.meta(auto_job["model_id"])
    assert model["size_bytes"] == auto_job["result"]["model_size_bytes"] > 0
    chunk_keys = list(redis.scan_iter(match=f"{keys.model(auto_job['model_id'])}:chunk:*"))
    assert chunk_keys and all(redis.strlen(k) <= CHUNK_BYTES for k in chunk_keys)


def test_the_training_file_is_regenerated_from_the_snapshot_after_the_job_ended(
    auto_job: dict, client: ApiClient, posted: list[dict]
) -> None:
    response = client.get(f"/v1/jobs/{auto_job['id']}/training_file")
    assert response.status_code == 200, response.text[:300]
    lines = [json.loads(line) for line in response.text.splitlines()]
    inputs = sorted(line["messages"][0]["content"] for line in lines)
    seed = auto_job["hyperparameters"]["seed"]
    expected = sorted(
        r["input"]
        for r in posted
        if not in_validation(r["input"], seed, DEFAULT_VALIDATION_FRACTION)
    )
    assert inputs == expected
    assert len(lines) == auto_job["result"]["training_data"]["total_examples"]


@pytest.mark.parametrize(
    ("hyperparameters", "field", "words"),
    [
        ({"n_epochs": "atuo"}, "n_epochs", '"auto"'),
        ({"batch_size": "Auto"}, "batch_size", '"auto"'),
        ({"l2": -0.1}, "l2", "greater than or equal to 0"),
        ({"n_epochs": 2, "early_stopping_patience": 5}, "early_stopping_patience", "n_epochs"),
        ({"early_stopping_patience": 0}, "early_stopping_patience", "greater than or equal"),
    ],
)
def test_bad_training_controls_get_a_422_naming_the_field_and_store_nothing(
    client: ApiClient, stack: Stack, hyperparameters: dict, field: str, words: str
) -> None:
    before = stack.store.jobs.count()
    response = client.post("/v1/jobs", json={"hyperparameters": hyperparameters})
    problem = assert_problem(response, 422, [f"hyperparameters.{field}"])
    assert words in str(problem["errors"]), problem
    assert stack.store.jobs.count() == before


def test_a_model_over_the_size_limit_fails_its_job_with_a_named_code(
    stack: Stack, posted: list[dict]
) -> None:
    store = Store.from_url(stack.redis_url)
    request = JobInSchema().load(
        {"include_synthetic": False, "lab_eval_set": True, "hyperparameters": {"n_epochs": 2}}
    )
    job = store.jobs.create(request, store.interactions.last_seq(), len(STAGES) + 2)
    limits = Limits(max_model_bytes=1000)
    for stage in ("collect", "filter", "prepare", "embed"):
        run_stage(store, job["id"], stage, work_of(stage), limits)
    with pytest.raises(Exception, match="model_too_large"):
        run_stage(store, job["id"], "fine_tune", work_of("fine_tune"), limits)
    failed = store.jobs.get(job["id"])
    assert failed["status"] == contracts.FAILED
    assert failed["error"]["code"] == "model_too_large"
    assert "TUNELOOP_MAX_MODEL_BYTES" in failed["error"]["message"]
    assert store.models.meta(model_id_for(job)) is None
