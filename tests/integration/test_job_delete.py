"""DELETE /v1/jobs/{id} on the session's stack: a real job, run by the worker, with a real eval
set, is deleted with every key its id names; its model stays and is deleted as OpenAI deletes
one (the SDK's models.delete). A job that fails lets its eval set expire from its end.

The figures (keys and bytes before and after) are printed: run with -s to see them.
"""

import time
from collections.abc import Iterator

import openai
import pytest
from openai.types import ModelDeleted

from tuneloop import contracts
from tuneloop.settings import Settings
from tuneloop.store import keys

from .support import API_KEY, ApiClient, Stack, assert_problem, wait_for_job, wait_until

pytestmark = pytest.mark.integration

N_CASES = 10_000  # the most a job may be given
TASKS = ("weather", "travel", "general")


def cases(n: int) -> list[dict]:
    """n distinct eval cases over the lab's task types, every other with a reference."""
    made = []
    for i in range(n):
        text = f"case {i}: is it sunny in city {i} today, and will it rain there tomorrow?"
        case = {"input": text, "expected_type": TASKS[i % 3]}
        if i % 2:
            case["reference_output"] = f"Sunny in city {i}."
        made.append(case)
    return made


def named_keys(stack: Stack, jid: str) -> list[str]:
    """Every key whose name holds the job's id (SCAN)."""
    return sorted(stack.store.redis.scan_iter(match=f"*{jid}*", count=1000))


def bytes_of(stack: Stack, names: list[str]) -> int:
    """What Redis says the keys take (MEMORY USAGE, every element counted)."""
    redis = stack.store.redis
    return sum(redis.memory_usage(name, samples=0) or 0 for name in names)


def used_memory(stack: Stack) -> int:
    """Redis's used_memory once its lazy frees are done."""
    redis = stack.store.redis
    wait_until(lambda: redis.info("memory")["lazyfree_pending_objects"] == 0, 30.0, "lazy frees")
    return int(redis.info("memory")["used_memory"])


@pytest.fixture(scope="module")
def sdk(stack: Stack) -> Iterator[openai.OpenAI]:
    """The official client, pointed at the gateway, without retries."""
    with openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=API_KEY, max_retries=0) as c:
        yield c


@pytest.fixture(scope="module")
def deleted(client: ApiClient, stack: Stack) -> dict:
    """A job with a 10,000-case eval set run to its end, then deleted: what was measured."""
    request = {
        "eval_set": cases(N_CASES),
        "task_types": list(TASKS),
        "include_synthetic": True,
        "hyperparameters": {"n_epochs": 2},
    }
    created = client.post("/v1/jobs", json=request)
    assert created.status_code == 202, created.text[:300]
    job = wait_for_job(client, stack, created.json()["id"])
    jid = job["id"]
    assert client.get(f"/v1/jobs/{jid}/cases", params={"outcome": "improved"}).status_code == 200
    names = named_keys(stack, jid)
    held, before = bytes_of(stack, names), used_memory(stack)
    started = time.perf_counter()
    answer = client.delete(f"/v1/jobs/{jid}")
    seconds = time.perf_counter() - started
    after = used_memory(stack)
    print(
        f"\nDELETE a job with {N_CASES} eval cases: {len(names)} keys, {held} bytes "
        f"(MEMORY USAGE) -> {len(named_keys(stack, jid))} keys; used_memory "
        f"{before} -> {after} ({before - after} freed); answered in {seconds * 1000:.1f} ms\n"
        + "\n".join(f"  {name.replace(jid, '{id}')}" for name in names)
    )
    return {"job": job, "answer": answer, "keys": names}


def test_deleting_an_ended_job_answers_as_openai_deletions_do(deleted: dict) -> None:
    answer, jid = deleted["answer"], deleted["job"]["id"]
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": jid, "object": "fine_tuning.job", "deleted": True}


def test_deleting_an_ended_job_frees_every_key_its_id_names(
    deleted: dict, stack: Stack, client: ApiClient
) -> None:
    jid = deleted["job"]["id"]
    assert keys.job_eval_set(jid) in deleted["keys"]  # there was bulk data to free
    assert named_keys(stack, jid) == []
    redis = stack.store.redis
    assert redis.zscore(keys.JOBS, jid) is None
    assert all(redis.zscore(keys.job_status_index(s), jid) is None for s in contracts.STATUSES)
    for path in ("", "/events", "/cases?outcome=improved", "/training_file"):
        assert_problem(client.get(f"/v1/jobs/{jid}{path}"), 404)
    listed = client.get("/v1/jobs", params={"limit": 100}).json()["data"]
    assert jid not in {j["id"] for j in listed}
    assert client.get(f"/v1/fine_tuning/jobs/{jid}").status_code == 404
    assert_problem(client.delete(f"/v1/jobs/{jid}"), 404)


def test_the_model_of_a_deleted_job_stays_and_is_deleted_through_the_sdk(
    deleted: dict, sdk: openai.OpenAI
) -> None:
    mid, jid = deleted["job"]["model_id"], deleted["job"]["id"]
    model = sdk.models.retrieve(mid)
    assert model.id == mid and model.model_extra["job_id"] == jid  # names its job, now gone
    gone = sdk.models.delete(mid)
    assert ModelDeleted.model_validate(gone.model_dump()) == ModelDeleted(
        id=mid, object="model", deleted=True
    )
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve(mid)
    with pytest.raises(openai.NotFoundError):
        sdk.models.delete(mid)
    assert mid not in {m.id for m in sdk.models.list()}


def test_a_job_that_failed_lets_its_eval_set_expire_a_ttl_after_its_end(
    client: ApiClient, stack: Stack
) -> None:
    request = {
        "eval_set": cases(100),
        "task_types": ["no-such-task"],  # the filter keeps nothing: failed in filter
        "include_synthetic": True,
        "hyperparameters": {"n_epochs": 2},
    }
    created = client.post("/v1/jobs", json=request)
    assert created.status_code == 202, created.text[:300]
    job = wait_for_job(client, stack, created.json()["id"], expect=contracts.FAILED)
    redis, jid = stack.store.redis, job["id"]
    ttl = Settings().failed_job_ttl  # the session stack's: the default
    assert redis.execute_command("EXPIRETIME", keys.job_eval_set(jid)) == job["finished_at"] + ttl
    assert redis.execute_command("EXPIRETIME", keys.job(jid)) == -1  # the record stays
    assert client.delete(f"/v1/jobs/{jid}").status_code == 200
    assert named_keys(stack, jid) == []


def test_the_openai_fine_tuning_route_has_no_delete_as_openai_has_none(
    client: ApiClient,
) -> None:
    answer = client.delete("/v1/fine_tuning/jobs/ftjob-0123456789abcdef01234567")
    assert answer.status_code == 405, answer.text
