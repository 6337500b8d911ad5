"""Base language models through the gateway, with a real worker serving chat completions.

A private stack registers one base model (TUNELOOP_BASE_MODELS) in its gateway and workers;
a worker consuming only tuneloop.llm.interactive answers chats with a stand-in generator
(kinds/echo_generator.py, named by TUNELOOP_LLM_GENERATOR), so the whole path (Celery task,
Redis reply list, server-sent events, the openai SDK) runs without torch.
"""

import json
import os
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import requests

from tuneloop.artifact_store import open_store
from tuneloop.contracts import BASELINE_MODEL_ID
from tuneloop.llm.spec import FORMAT, SERVE_QUEUE
from tuneloop.store import keys

from .support import (
    API_KEY,
    ApiClient,
    Stack,
    assert_problem,
    client_for,
    extra_gateway,
    full_stack,
    upload_checked,
)

pytestmark = pytest.mark.integration

KINDS_DIR = Path(__file__).parent / "kinds"
BASE, LOCATION = "tiny-lm", "/models/tiny-lm"
TUNED = "ft-tiny-lm-adapter-test"
SYSTEM = {"role": "system", "content": "Be brief."}


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The artifact store's directory and the llm worker's adapter cache."""
    return {name: tmp_path_factory.mktemp(name) for name in ("artifacts", "cache")}


@pytest.fixture(scope="module")
def llm(places: dict[str, Path]) -> Iterator[tuple[Stack, ApiClient]]:
    """A stack with BASE registered and an llm worker on the interactive queue, a client."""
    path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(KINDS_DIR)]))
    env = {
        "TUNELOOP_ARTIFACTS": str(places["artifacts"]),
        "TUNELOOP_ADAPTER_CACHE": str(places["cache"]),
        "TUNELOOP_BASE_MODELS": f"{BASE}={LOCATION}",
        "TUNELOOP_LLM_GENERATOR": "echo_generator:factory",
        "TUNELOOP_LLM_TIMEOUT": "20",
        "PYTHONPATH": path,
    }
    with full_stack("tuneloop-llm-", env) as stack, client_for(stack) as client:
        stack.start_worker("llm", concurrency=1, queues=SERVE_QUEUE)
        yield stack, client


@pytest.fixture(scope="module")
def sdk(llm: tuple[Stack, ApiClient]) -> Iterator[openai.OpenAI]:
    """The official client on the stack's gateway, without retries."""
    base_url = f"{llm[0].base_url}/v1"
    with openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def adapter(
    llm: tuple[Stack, ApiClient], places: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A fine-tuned model's record (format, base model, adapter key) in the store, its adapter
    in the artifact store; returns where the llm worker keeps its local copy."""
    made = tmp_path_factory.mktemp("adapter")
    (made / "adapter_config.json").write_text("{}")
    key = f"models/{TUNED}/adapter"
    open_store(str(places["artifacts"])).put_dir(key, made)
    directory = str(places["cache"] / key)
    meta = {
        "id": TUNED,
        "object": "model",
        "created_at": 1,
        "owned_by": "tuneloop",
        "base_model": BASE,
        "job_id": None,
        "format": FORMAT,
        "adapter": key,
        "training_examples": 3,
        "size_bytes": 0,
    }
    redis = llm[0].probe()
    redis.set(keys.model_meta(TUNED), json.dumps(meta))
    redis.zadd(keys.MODELS, {TUNED: 1})
    return directory


def preference(good: str = "Hello!", bad: str | None = "Go away.") -> str:
    """One OpenAI preference line."""
    line: dict = {
        "input": {"messages": [{"role": "user", "content": "Hi"}]},
        "preferred_output": [{"role": "assistant", "content": good}],
    }
    if bad is not None:
        line["non_preferred_output"] = [{"role": "assistant", "content": bad}]
    return json.dumps(line) + "\n"


def echo(text: str, adapter: str | None = None, t=1, p=1, seed=None, roles=2) -> str:
    """What the stand-in generator answers."""
    return f"{LOCATION} {adapter} t={t} p={p} seed={seed} roles={roles} you said: {text}"


# --- models -------------------------------------------------------------------------------


def test_the_models_list_shows_the_base_model_with_its_format_and_location(
    llm: tuple[Stack, ApiClient], sdk: openai.OpenAI
) -> None:
    listed = {m["id"]: m for m in llm[1].get("/v1/models").json()["data"]}
    model = listed[BASE]
    assert (model["format"], model["object"], model["owned_by"]) == (FORMAT, "model", "tuneloop")
    assert model["location"] == LOCATION
    assert BASE in {m.id for m in sdk.models.list()}
    assert sdk.models.retrieve(BASE).model_dump()["format"] == FORMAT


def test_a_job_naming_an_unknown_model_is_a_400_naming_the_registered_ones(
    llm: tuple[Stack, ApiClient], sdk: openai.OpenAI
) -> None:
    problem = assert_problem(llm[1].post("/v1/jobs", json={"model": "gpt-4o"}), 400, ["model"])
    assert BASE in problem["detail"] and BASELINE_MODEL_ID in problem["detail"]
    upload = upload_checked(sdk, "p.jsonl", preference().encode())
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.fine_tuning.jobs.create(model="gpt-4o", training_file=upload.id)
    assert caught.value.body["param"] == "model" and BASE in caught.value.message


# --- the method object --------------------------------------------------------------------


def test_v1_jobs_takes_the_method_object_and_stores_its_type_and_hyperparameters(
    llm: tuple[Stack, ApiClient],
) -> None:
    body = {
        "model": BASE,
        "method": {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 2, "beta": 0.2}}},
        "min_gap": 0.3,
    }
    created = llm[1].post("/v1/jobs", json=body)
    assert created.status_code == 202, created.text[:300]
    request = created.json()["request"]
    assert (request["model"], request["method"], request["min_gap"]) == (BASE, "dpo", 0.3)
    assert request["hyperparameters"]["beta"] == 0.2
    assert request["hyperparameters"]["n_epochs"] == 2
    supervised = llm[1].post("/v1/jobs", json={"model": BASE})
    assert supervised.status_code == 202 and supervised.json()["request"]["method"] == "supervised"


def test_the_openai_job_shows_its_real_model_and_dpo_method(sdk: openai.OpenAI) -> None:
    upload = upload_checked(sdk, "p.jsonl", preference().encode())
    job = sdk.fine_tuning.jobs.create(
        model=BASE,
        training_file=upload.id,
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.25, "n_epochs": 3}}},
    )
    assert job.model == BASE and job.method.type == "dpo"
    assert job.method.dpo.hyperparameters.beta == 0.25
    assert job.method.dpo.hyperparameters.n_epochs == 3
    again = sdk.fine_tuning.jobs.retrieve(job.id)
    assert again.model == BASE and again.method.type == "dpo"


def test_dpo_of_the_stand_in_agent_is_a_400_on_both_routes(
    llm: tuple[Stack, ApiClient], sdk: openai.OpenAI
) -> None:
    body = {"model": BASELINE_MODEL_ID, "method": {"type": "dpo"}}
    assert_problem(llm[1].post("/v1/jobs", json=body), 400, ["method"])
    upload = upload_checked(sdk, "p.jsonl", preference().encode())
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.fine_tuning.jobs.create(training_file=upload.id, **body)
    assert caught.value.body["param"] == "method"


# --- preference files ---------------------------------------------------------------------


def test_a_preference_line_without_non_preferred_output_gives_error_naming_the_line(
    sdk: openai.OpenAI,
) -> None:
    content = (preference() + preference(bad=None)).encode()
    checked = upload_checked(sdk, "bad.jsonl", content)
    assert checked.status == "error", checked
    assert "line 2: non_preferred_output: is missing" in (checked.status_details or "")
    assert "line 1" not in (checked.status_details or "")


def test_a_preference_file_is_stored_as_preference_lines(sdk: openai.OpenAI) -> None:
    upload = upload_checked(sdk, "p.jsonl", preference().encode())
    assert upload.model_dump()["tuneloop"]["lines"] == "preference"


# --- chat completions ---------------------------------------------------------------------


def test_a_base_model_answers_a_chat_through_the_llm_worker(sdk: openai.OpenAI) -> None:
    done = sdk.chat.completions.create(
        model=BASE,
        messages=[SYSTEM, {"role": "user", "content": "hello there"}],
        temperature=0.5,
        top_p=0.9,
        seed=7,
    )
    assert done.choices[0].message.content == echo("hello there", t=0.5, p=0.9, seed=7)
    assert done.choices[0].finish_reason == "stop"
    words = len(echo("hello there", t=0.5, p=0.9, seed=7).split())
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (4, words)
    assert done.usage.total_tokens == 4 + words


def test_stream_true_answers_with_chunks_that_the_sdk_reads(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model=BASE,
        messages=[{"role": "user", "content": "stream me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == echo("stream me", roles=1)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 5
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1].usage.completion_tokens == len(text.split())


def test_max_tokens_and_stop_are_honoured(sdk: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "cut me short"}]
    short = sdk.chat.completions.create(model=BASE, messages=messages, max_tokens=3)
    assert short.choices[0].message.content == " ".join(echo("x", roles=1).split()[:3])
    assert short.choices[0].finish_reason == "length"
    stopped = sdk.chat.completions.create(model=BASE, messages=messages, stop=["said:"])
    assert stopped.choices[0].message.content.endswith("roles=1 you")
    assert stopped.choices[0].finish_reason == "stop"


def test_a_fine_tuned_model_is_served_with_its_adapter(sdk: openai.OpenAI, adapter: str) -> None:
    done = sdk.chat.completions.create(model=TUNED, messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content == echo("hi", adapter=adapter, roles=1)
    stream = sdk.chat.completions.create(
        model=TUNED, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream) == echo("hi", adapter, roles=1)


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"seed": "7"}, "seed"),
    ],
)
def test_bad_sampling_parameters_are_refused_naming_them(
    sdk: openai.OpenAI, change: dict, param: str
) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        sdk.chat.completions.create(
            model=BASE, messages=[{"role": "user", "content": "x"}], **change
        )
    assert caught.value.body["param"] == param


def test_a_generator_failure_is_a_503_with_its_reason_plain_and_streamed(
    sdk: openai.OpenAI,
) -> None:
    messages = [{"role": "user", "content": "please fail"}]
    for stream in (False, True):
        with pytest.raises(openai.InternalServerError) as caught:
            sdk.chat.completions.create(model=BASE, messages=messages, stream=stream)
        assert caught.value.status_code == 503 and "on purpose" in caught.value.message


def test_the_models_responses_route_asks_a_language_model_too(llm: tuple[Stack, ApiClient]) -> None:
    answered = llm[1].post(f"/v1/models/{BASE}/responses", json={"input": "one input"})
    assert answered.status_code == 200, answered.text[:300]
    assert answered.json()["text"] == echo("one input", roles=1)


def test_without_an_llm_worker_a_chat_is_a_503_after_the_timeout(
    llm: tuple[Stack, ApiClient],
) -> None:
    stack = llm[0]
    stack.remove("llm")  # last test of the module: nothing consumes the interactive queue now
    with extra_gateway(stack, "short", {"TUNELOOP_LLM_TIMEOUT": "1"}) as url:
        body = {"model": BASE, "messages": [{"role": "user", "content": "anyone?"}]}
        answered = requests.post(
            f"{url}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=30,
        )
    assert answered.status_code == 503, answered.text[:300]
    assert "no language-model worker answered within 1s" in answered.json()["error"]["message"]
