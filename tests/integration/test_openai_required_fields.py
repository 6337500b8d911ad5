"""The official openai SDK sending only what each call requires, against the real stack.

The SDK leaves every optional field out by default, so a job request holds only model and
training_file: the gateway must fill in its defaults ("auto" hyperparameters) itself. The
OpenAI routes driven here are read from the app's own url_map, so a route added without a
call below fails the test that lists them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest
from marshmallow import Schema, fields
from openai.types.fine_tuning import FineTuningJob
from tuneloop_devstack.stack import Stack

from tuneloop.contracts import BASELINE_MODEL_ID
from tuneloop.graph import AUTO
from tuneloop.schemas.jobs import AutoOr
from tuneloop_gateway.compat.errors import is_openai_route
from tuneloop_gateway.compat.schemas import FineTuningJobCreateSchema
from tuneloop_gateway.id_params import plain_rule

from .support import API_KEY, JOB_TIMEOUT, gateway_app, upload_checked, wait_until

BANKING77 = Path(__file__).resolve().parents[1] / "fixtures" / "banking77-4"
ROWS = 15  # rows of each of the fixture's four intents: enough for a holdout and a model
LONG_EPOCHS = 200  # the most a job may ask for: still running when paused, resumed, cancelled
SDK_MODEL_ROUTES = ("/v1/models", "/v1/models/<model_id>")  # OpenAI's models API: list, retrieve
PAUSE_STATUSES = ("paused", "pausing")  # paused while queued, pausing while it runs


def chat_file(per_intent: int | None) -> bytes:
    """The fixture's first rows of each intent (None: all) as chat-format JSONL, task typed."""
    with (BANKING77 / "train.csv").open(newline="") as f:
        every = list(csv.DictReader(f))
    seen: dict[str, int] = {}
    picked = []
    for row in every:
        seen[row["category"]] = seen.get(row["category"], 0) + 1
        if per_intent is None or seen[row["category"]] <= per_intent:
            picked.append(row)
    return "".join(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": r["text"]},
                    {"role": "assistant", "content": f"About {r['category']}."},
                ],
                "metadata": {"task_type": r["category"]},
            }
        )
        + "\n"
        for r in picked
    ).encode()


def auto_paths(schema: Schema, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every field of schema (nested ones too) that accepts "auto", as a path of names."""
    paths = []
    for name, field in schema.fields.items():
        if isinstance(field, AutoOr):
            paths.append((*prefix, name))
        elif isinstance(field, fields.Nested):
            paths += auto_paths(field.schema, (*prefix, name))
    return paths


AUTO_PATHS = auto_paths(FineTuningJobCreateSchema())
# The stand-in agent trains supervised only (dpo is for language models: test_llm_gateway).
SUPERVISED_PATHS = [p for p in AUTO_PATHS if "dpo" not in p]


def with_auto(path: tuple[str, ...]) -> dict:
    """The request fields that set the field at path to "auto" (method needs its type)."""
    value: object = AUTO
    for name in reversed(path):
        value = {name: value}
    assert isinstance(value, dict)
    if path[0] == "method":
        value["method"]["type"] = "supervised"
    return value


@pytest.fixture(scope="module")
def sdk(stack: Stack) -> Iterator[openai.OpenAI]:
    """The official client, pointed at the gateway, without retries (a failure shows at once)."""
    with openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=API_KEY, max_retries=0) as c:
        yield c


@pytest.fixture(scope="module")
def training_file(sdk: openai.OpenAI) -> str:
    """A training file uploaded with only the required fields."""
    return upload_checked(sdk, "rows.jsonl", chat_file(ROWS)).id


def ended(sdk: openai.OpenAI, job_id: str) -> FineTuningJob:
    """Poll the job through the SDK until it has ended."""
    return wait_until(
        lambda: (
            (job := sdk.fine_tuning.jobs.retrieve(job_id)).status
            in ("succeeded", "failed", "cancelled")
            and job
        ),
        JOB_TIMEOUT,
        lambda: f"job {job_id} to end: {sdk.fine_tuning.jobs.retrieve(job_id)}",
        0.2,
    )


def test_a_job_with_only_the_required_fields_is_created_and_succeeds(
    sdk: openai.OpenAI, training_file: str
) -> None:
    job = sdk.fine_tuning.jobs.create(model=BASELINE_MODEL_ID, training_file=training_file)
    assert job.status in ("queued", "running"), job
    assert job.hyperparameters.n_epochs == AUTO  # resolved at prepare, from the data
    done = ended(sdk, job.id)
    assert done.status == "succeeded", done.error
    assert isinstance(done.hyperparameters.n_epochs, int) and done.hyperparameters.n_epochs > 0
    assert done.fine_tuned_model


def test_the_schema_has_auto_hyperparameters_at_the_top_and_under_method() -> None:
    assert {p[0] for p in AUTO_PATHS} == {"hyperparameters", "method"}, AUTO_PATHS
    top = {p[-1] for p in AUTO_PATHS if p[0] == "hyperparameters"}
    assert top == {p[-1] for p in SUPERVISED_PATHS if p[0] == "method"}  # in both places
    assert {p[-1] for p in AUTO_PATHS if "dpo" in p} == top | {"beta"}


@pytest.mark.parametrize("path", SUPERVISED_PATHS, ids=[".".join(p) for p in SUPERVISED_PATHS])
def test_a_hyperparameter_set_to_auto_is_accepted_and_the_job_succeeds(
    sdk: openai.OpenAI, training_file: str, path: tuple[str, ...]
) -> None:
    job = sdk.fine_tuning.jobs.create(
        model=BASELINE_MODEL_ID, training_file=training_file, **with_auto(path)
    )
    assert job.hyperparameters.model_dump()[path[-1]] == AUTO, job.hyperparameters
    done = ended(sdk, job.id)
    assert done.status == "succeeded", done.error


@pytest.fixture(scope="module")
def openai_routes(stack: Stack) -> set[tuple[str, str]]:
    """(rule, method) of every route an OpenAI SDK calls, from the app's url_map."""
    with gateway_app(stack.env()) as app:
        rules = list(app.url_map.iter_rules())
    routes = set()
    for rule in rules:
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            # The SDK's models.list and models.retrieve (not our model's content download).
            models = plain_rule(rule.rule) in SDK_MODEL_ROUTES and method == "GET"
            if is_openai_route(rule.rule) or models:
                routes.add((plain_rule(rule.rule), method))
    return routes


Call = Callable[[openai.OpenAI, dict], object]


def _create_file(sdk: openai.OpenAI, made: dict) -> object:
    created = sdk.files.create(file=io.BytesIO(chat_file(ROWS)), purpose="fine-tune")
    made["file"] = sdk.files.wait_for_processing(created.id, poll_interval=0.05)
    return created


def _create_job(sdk: openai.OpenAI, made: dict) -> object:
    made["job"] = sdk.fine_tuning.jobs.create(
        model=BASELINE_MODEL_ID, training_file=made["file"].id
    )
    return made["job"]


def _pause_job(sdk: openai.OpenAI, made: dict) -> object:
    """Pause a job that is still running: every row of the split, for LONG_EPOCHS epochs."""
    upload = upload_checked(sdk, "split.jsonl", chat_file(None))
    made["long"] = sdk.fine_tuning.jobs.create(
        model=BASELINE_MODEL_ID,
        training_file=upload.id,
        hyperparameters={"n_epochs": LONG_EPOCHS},
    )
    return sdk.fine_tuning.jobs.pause(made["long"].id)


def _cancel_job(sdk: openai.OpenAI, made: dict) -> object:
    """Cancel the long job, resumed: it is still running (no job is left paused)."""
    return sdk.fine_tuning.jobs.cancel(made["long"].id)


# In order: each call may use what the ones before made. Keys: (rule, method) as url_map has.
CALLS: dict[tuple[str, str], Call] = {
    ("/v1/files", "POST"): _create_file,
    ("/v1/files", "GET"): lambda sdk, made: sdk.files.list(),
    ("/v1/files/<file_id>", "GET"): lambda sdk, made: sdk.files.retrieve(made["file"].id),
    ("/v1/files/<file_id>/content", "GET"): lambda sdk, made: sdk.files.content(made["file"].id),
    ("/v1/fine_tuning/jobs", "POST"): _create_job,
    ("/v1/fine_tuning/jobs", "GET"): lambda sdk, made: sdk.fine_tuning.jobs.list(),
    ("/v1/fine_tuning/jobs/<job_id>", "GET"): lambda sdk, made: ended(sdk, made["job"].id),
    ("/v1/fine_tuning/jobs/<job_id>/events", "GET"): lambda sdk, made: (
        sdk.fine_tuning.jobs.list_events(made["job"].id)
    ),
    ("/v1/fine_tuning/jobs/<job_id>/checkpoints", "GET"): lambda sdk, made: (
        sdk.fine_tuning.jobs.checkpoints.list(made["job"].id)
    ),
    ("/v1/fine_tuning/jobs/<job_id>/pause", "POST"): _pause_job,
    ("/v1/fine_tuning/jobs/<job_id>/resume", "POST"): lambda sdk, made: sdk.fine_tuning.jobs.resume(
        made["long"].id
    ),
    ("/v1/fine_tuning/jobs/<job_id>/cancel", "POST"): _cancel_job,
    ("/v1/models", "GET"): lambda sdk, made: sdk.models.list(),
    ("/v1/models/<model_id>", "GET"): lambda sdk, made: sdk.models.retrieve(BASELINE_MODEL_ID),
    ("/v1/chat/completions", "POST"): lambda sdk, made: sdk.chat.completions.create(
        model=BASELINE_MODEL_ID, messages=[{"role": "user", "content": "Where is my card?"}]
    ),
    ("/v1/files/<file_id>", "DELETE"): lambda sdk, made: sdk.files.delete(made["file"].id),
}


def test_every_openai_route_the_gateway_serves_has_a_call_here(
    openai_routes: set[tuple[str, str]],
) -> None:
    assert set(CALLS) == openai_routes


def test_every_openai_route_answers_the_sdk_with_only_its_required_fields(
    sdk: openai.OpenAI, openai_routes: set[tuple[str, str]]
) -> None:
    made: dict = {}
    answers = {route: call(sdk, made) for route, call in CALLS.items()}
    assert set(answers) >= openai_routes
    assert made["job"].status in ("queued", "running")
    assert answers[("/v1/fine_tuning/jobs/<job_id>", "GET")].status == "succeeded"
    assert answers[("/v1/fine_tuning/jobs/<job_id>/pause", "POST")].status in PAUSE_STATUSES
    assert answers[("/v1/fine_tuning/jobs/<job_id>/resume", "POST")].status in ("queued", "running")
    assert answers[("/v1/fine_tuning/jobs/<job_id>/cancel", "POST")].status == "cancelled"
    assert answers[("/v1/files/<file_id>/content", "GET")].content == chat_file(ROWS)
    assert answers[("/v1/files/<file_id>", "DELETE")].deleted is True
    assert answers[("/v1/chat/completions", "POST")].choices[0].message.content
    assert BASELINE_MODEL_ID in [m.id for m in answers[("/v1/models", "GET")]]
