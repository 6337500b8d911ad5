"""A job's eval set is stored apart from its record and read back only when asked for."""

import json
import secrets
from collections.abc import Iterator

import pytest

from tuneloop import contracts
from tuneloop.canvas import job_canvas
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.settings import Settings
from tuneloop.store import keys
from tuneloop.store.jobs import Quota, QuotaExceeded
from tuneloop_gateway.extensions import build_celery

from .support import STAGES, ApiClient, Stack, assert_problem, wait_for_job

pytestmark = pytest.mark.integration

N_CASES = 2000
DEFAULT_BODY_LIMIT = 16 * 1024  # bytes: the record, its result and ten example answers
INCLUDE = {"include": "request.eval_set"}
TASKS = ("weather", "travel", "general")


def cases(n: int, tag: str) -> list[dict]:
    """Return n distinct eval cases over the lab's task types, every other with a reference."""
    made = []
    for i in range(n):
        case = {"input": f"{tag} case {i}: is it sunny in city {i}?", "expected_type": TASKS[i % 3]}
        if i % 2:
            case["reference_output"] = f"Sunny in city {i}."
        made.append(case)
    return made


def eval_set_keys(stack: Stack) -> set[str]:
    """Return every eval-set key in Redis."""
    return set(stack.store.redis.scan_iter(match=keys.job_eval_set("*"), count=1000))


@pytest.fixture(scope="module")
def large(client: ApiClient, stack: Stack) -> dict:
    """Create a job with a 2,000-case eval set and run it to the end."""
    eval_set = cases(N_CASES, "large")
    request = {
        "eval_set": eval_set,
        "task_types": list(TASKS),
        "include_synthetic": True,  # the lab's synthetic examples are its training data
        "hyperparameters": {"n_epochs": 2},
    }
    created = client.post("/v1/jobs", json=request)
    assert created.status_code == 202, created.text[:300]
    job = wait_for_job(client, stack, created.json()["id"])
    return {"created": created, "job": job, "eval_set": eval_set}


def test_a_job_with_a_large_eval_set_is_read_without_its_cases_by_default(
    client: ApiClient, large: dict
) -> None:
    response = client.get(f"/v1/jobs/{large['job']['id']}")
    assert response.status_code == 200, response.text[:300]
    print(f"\nGET a job with {N_CASES} eval cases: {len(response.content)} bytes")
    assert len(response.content) < DEFAULT_BODY_LIMIT
    request = response.json()["request"]
    assert "eval_set" not in request
    assert request["eval_set_size"] == N_CASES
    created = large["created"].json()["request"]
    assert "eval_set" not in created and created["eval_set_size"] == N_CASES


def test_include_request_eval_set_returns_the_exact_cases(client: ApiClient, large: dict) -> None:
    response = client.get(f"/v1/jobs/{large['job']['id']}", params=INCLUDE)
    assert response.status_code == 200, response.text[:300]
    request = response.json()["request"]
    assert request["eval_set"] == large["eval_set"]
    assert request["eval_set_size"] == N_CASES


def test_a_job_is_evaluated_on_its_stored_eval_set(large: dict) -> None:
    result = large["job"]["result"]
    assert result["baseline_metrics"]["n_cases"] == N_CASES
    assert result["fine_tuned_metrics"]["n_cases"] == N_CASES
    assert result["examples"][0]["input"] == large["eval_set"][0]["input"]


def test_the_job_list_shows_the_eval_set_by_its_size_only(client: ApiClient, large: dict) -> None:
    listed = client.get("/v1/jobs", params={"limit": 100})
    assert listed.status_code == 200, listed.text[:300]
    [job] = [j for j in listed.json()["data"] if j["id"] == large["job"]["id"]]
    assert "eval_set" not in job["request"] and job["request"]["eval_set_size"] == N_CASES
    # What grows with the eval set or the task types is read from the job itself.
    assert not {"examples", "classification", "calibration"} & set(job["result"])
    assert {"examples", "classification", "calibration"} <= set(large["job"]["result"])


@pytest.mark.parametrize("value", ["request.eval_sets", "result", ""])
def test_an_unknown_include_is_a_422_naming_it(client: ApiClient, large: dict, value: str) -> None:
    response = client.get(f"/v1/jobs/{large['job']['id']}", params={"include": value})
    problem = assert_problem(response, 422, ["include"])
    assert repr(value) in json.dumps(problem["errors"]), problem


def test_a_job_without_an_eval_set_has_no_eval_set_size(client: ApiClient, stack: Stack) -> None:
    job = stack.store.jobs.create(JobInSchema().load({}), 0, len(STAGES) + 1)
    try:
        response = client.get(f"/v1/jobs/{job['id']}", params=INCLUDE)
        assert response.status_code == 200, response.text[:300]
        assert not {"eval_set", "eval_set_size"} & set(response.json()["request"])
    finally:
        stack.store.jobs.delete(job["id"])


def test_a_cancelled_job_still_returns_its_eval_set_on_request(
    client: ApiClient, stack: Stack
) -> None:
    eval_set = cases(3, "cancelled")
    request = JobInSchema().load({"eval_set": eval_set})
    job = stack.store.jobs.create(request, 0, len(STAGES) + 1)  # never queued: stays queued
    cancelled = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text[:300]
    assert "eval_set" not in cancelled.json()["request"]
    assert cancelled.json()["request"]["eval_set_size"] == 3
    response = client.get(f"/v1/jobs/{job['id']}", params=INCLUDE)
    assert response.json()["status"] == contracts.CANCELLED
    assert response.json()["request"]["eval_set"] == eval_set


def test_deleting_a_job_deletes_its_eval_set(stack: Stack) -> None:
    request = JobInSchema().load({"eval_set": cases(5, "deleted")})
    job = stack.store.jobs.create(request, 0, len(STAGES) + 1)
    assert stack.store.redis.exists(keys.job_eval_set(job["id"]))
    stack.store.jobs.delete(job["id"])
    assert stack.store.jobs.get(job["id"], eval_set=True) is None
    assert not stack.store.redis.exists(keys.job_eval_set(job["id"]))


def test_an_eval_set_larger_than_one_stored_chunk_reads_back_whole_and_in_order(
    stack: Stack,
) -> None:
    eval_set = [{**case, "input": case["input"] + " x" * 1500} for case in cases(1500, "big")]
    job = stack.store.jobs.create(JobInSchema().load({"eval_set": eval_set}), 0, len(STAGES) + 1)
    try:
        assert stack.store.redis.llen(keys.job_eval_set(job["id"])) > 2
        assert stack.store.jobs.eval_set(job["id"]) == eval_set
    finally:
        stack.store.jobs.delete(job["id"])


def test_a_job_refused_at_its_quota_stores_no_eval_set(stack: Stack) -> None:
    owner, quota = f"eval-set-quota-{secrets.token_hex(4)}", Quota(max_stored=1)
    jobs = stack.store.scoped(f"quota-{secrets.token_hex(4)}").jobs  # a project of its own
    request = JobInSchema().load({"eval_set": cases(5, "quota")})
    first = jobs.create(request, 0, len(STAGES) + 1, owner, quota)
    try:
        before = eval_set_keys(stack)
        with pytest.raises(QuotaExceeded):
            jobs.create(request, 0, len(STAGES) + 1, owner, quota)
        assert eval_set_keys(stack) == before
    finally:
        jobs.delete(first["id"])


@pytest.fixture
def old_record(stack: Stack) -> Iterator[dict]:
    """Store a job as it was stored before eval sets had their own key: inside its request."""
    eval_set = cases(40, "old")
    fields = {
        "task_types": list(TASKS),
        "include_synthetic": True,
        "hyperparameters": {"n_epochs": 2},
    }
    request = JobInSchema().load({**fields, "eval_set": eval_set})  # no default holdout
    request = {k: v for k, v in request.items() if k not in ("eval_set", "lab_eval_set")}  # as then
    job = stack.store.jobs.create(request, 0, len(STAGES) + 2)
    stack.store.redis.hset(
        keys.job(job["id"]), "request", json.dumps({**request, "eval_set": eval_set})
    )
    yield {"id": job["id"], "eval_set": eval_set}
    if stack.store.jobs.status(job["id"]) not in contracts.TERMINAL:  # never left queued
        stack.store.cancel_job(job["id"])


def test_a_job_stored_with_its_eval_set_inline_still_runs_and_reads_back(
    client: ApiClient, stack: Stack, old_record: dict
) -> None:
    jid, eval_set = old_record["id"], old_record["eval_set"]
    assert not stack.store.redis.exists(keys.job_eval_set(jid))
    celery = build_celery(Settings(redis_url=stack.redis_url))
    celery.conf.result_backend = None  # send only: no subscription to results outlives Redis
    try:
        job_canvas(celery, jid).apply_async()
    finally:
        celery.close()
    job = wait_for_job(client, stack, jid)
    assert job["result"]["baseline_metrics"]["n_cases"] == len(eval_set)
    assert "eval_set" not in job["request"] and job["request"]["eval_set_size"] == len(eval_set)
    included = client.get(f"/v1/jobs/{jid}", params=INCLUDE).json()
    assert included["request"]["eval_set"] == eval_set


def test_the_openapi_document_describes_both_shapes_of_a_job(anon: ApiClient) -> None:
    spec = anon.get("/openapi.json").json()
    parameters = spec["paths"]["/v1/jobs/{job_id}"]["get"]["parameters"]
    [include] = [p for p in parameters if p["name"] == "include"]
    assert include["in"] == "query"
    assert include["schema"]["items"]["enum"] == ["request.eval_set"]
    schemas = spec["components"]["schemas"]
    assert schemas["Job"]["properties"]["request"] == {"$ref": "#/components/schemas/JobRequest"}
    shown = schemas["JobRequest"]["properties"]
    assert "include=request.eval_set" in shown["eval_set"]["description"]
    assert shown["eval_set_size"]["type"] == "integer" and shown["eval_set_size"]["description"]
    assert "eval_set_size" not in schemas["JobIn"]["properties"]
