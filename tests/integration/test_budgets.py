"""Byte budgets: a project's stored bytes are counted where they are written and deleted, and
a write past TUNELOOP_MAX_PROJECT_BYTES is refused whole, naming the budget and the figures."""

import contextlib
import io
import json
import secrets
import time
from collections.abc import Iterator

import pytest
from redis import Redis

from tuneloop.store import Store, budget, keys
from tuneloop.store.files import FileStore
from tuneloop.store.interactions import MAX_EVENTS
from tuneloop.store.jobs import JobStore

from .support import (
    ApiClient,
    Stack,
    assert_problem,
    client_for,
    fault_stack,
    gateway_app,
    wait_until,
)
from .support.faults import (
    create_job,
    describe_job,
    seed_interactions,
    training_items,
    wait_job_status,
)

pytestmark = pytest.mark.integration

BUDGET = 40_000  # bytes: the seeded interactions and one job's outputs fit, not much more
KEY_A = f"budget-a-{secrets.token_hex(16)}"
KEY_B = f"budget-b-{secrets.token_hex(16)}"
KEY_D = f"budget-d-{secrets.token_hex(16)}"
KEY_E = f"budget-e-{secrets.token_hex(16)}"
SETTINGS = {
    "TUNELOOP_MAX_PROJECT_BYTES": str(BUDGET),
    "TUNELOOP_API_KEYS": (
        f"alice:{KEY_A}:admin:team-a,bob:{KEY_B}:admin:team-b,dave:{KEY_D}:admin:team-d,"
        f"erin:{KEY_E}:admin:team-e"
    ),
}


PURPOSE = {"purpose": "fine-tune"}
EDIT = {"type": "interaction.updated", "actor": "tests"}


def item(size: int, i: int = 0) -> dict:
    """An interaction whose input is about size characters."""
    return {"input": f"{i} " + "x" * size, "output": "ok", "rating": 0.9, "task_type": "filler"}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """A stack with one worker whose projects each may store BUDGET bytes."""
    with fault_stack(gateway_env=SETTINGS) as running:
        yield running


def stored_interaction_bytes(stack: Stack, project: str) -> int:
    """The bytes of every live interaction record of a project and of its audit events, as
    Redis holds them."""
    space, redis = keys.Space(project), stack.store.redis
    ids = redis.zrange(space.interactions, 0, -1)
    records = sum(redis.strlen(space.interaction(i)) for i in ids)
    events = [e for i in ids for _, e in redis.xrange(space.interaction_events(i))]
    return records + sum(len(e["event"].encode()) for e in events)


def usage(client: ApiClient) -> dict:
    """GET /v1/usage."""
    response = client.get("/v1/usage")
    assert response.status_code == 200, response.text
    return response.json()


def test_usage_counts_the_bytes_redis_holds_and_a_write_past_the_budget_stores_nothing(
    stack: Stack,
) -> None:
    with client_for(stack, KEY_A) as a, client_for(stack, KEY_B) as b:
        seeded = seed_interactions(a)
        for rating in (0.5, 0.6, 0.7):  # edits: each leaves an audit event with both values
            edited = a.patch(f"/v1/interactions/{seeded[0]}", json={"rating": rating})
            assert edited.status_code == 200, edited.text
        cases = [
            {"input": f"Quick query: {row['input']}", "expected_type": row["task_type"]}
            for row in training_items(3)
        ]
        jid = create_job(a, n_epochs=1, lab_eval_set=False, eval_set=cases)
        job = wait_job_status(a, stack, jid, {"succeeded", "failed"}, 120)
        assert job["status"] == "succeeded", job
        found = usage(a)
        assert found["budget_bytes"] == BUDGET and found["project"] == "team-a"
        kinds = found["by_kind"]
        assert kinds["interactions"]["bytes"] == stored_interaction_bytes(stack, "team-a") > 0
        assert kinds["interactions"]["count"] == a.get("/v1/interactions/stats").json()["count"]
        model = stack.store.models.payload(job["model_id"])
        assert kinds["models"] == {"bytes": len(model), "count": 1}
        assert kinds["eval_sets"]["count"] == 1 and kinds["eval_sets"]["bytes"] > 0
        assert kinds["cases"]["bytes"] > 0  # the job kept its regressed/improved cases
        assert found["bytes"] == sum(k["bytes"] for k in kinds.values())

        while BUDGET - usage(a)["bytes"] > 3500:  # fill to within one large item of the budget
            assert a.post("/v1/interactions", json=item(3000)).status_code == 201
        found = usage(a)
        room = BUDGET - found["bytes"]
        refused = a.post("/v1/interactions", json=item(3900))
        problem = assert_problem(refused, 429)
        assert problem["type"] == "insufficient_quota", problem
        assert "TUNELOOP_MAX_PROJECT_BYTES" in problem["detail"], problem
        assert f"{found['bytes']:,}" in problem["detail"] and f"{BUDGET:,}" in problem["detail"]
        batch = a.post(
            "/v1/interactions/batch", json={"items": [item(room // 2, i) for i in range(3)]}
        )
        assert_problem(batch, 429)  # the batch as a whole: none of its items is stored
        assert usage(a) == found
        assert b.post("/v1/interactions", json=item(3900)).status_code == 201  # B's own budget

        fits = a.post("/v1/interactions", json=item(room - 200))
        assert fits.status_code == 201, fits.text
        full = usage(a)["bytes"]
        assert full <= BUDGET
        deleted = a.delete(f"/v1/interactions/{fits.json()['id']}")
        assert deleted.status_code == 200, deleted.text
        assert usage(a)["bytes"] == found["bytes"]  # the delete gave its bytes back


def test_a_job_whose_eval_set_is_past_the_budget_is_refused_and_stores_nothing(
    stack: Stack,
) -> None:
    with client_for(stack, KEY_B) as b:
        before, jobs = usage(b), b.get("/v1/jobs").json()["data"]
        cases = [{"input": "y" * 2000, "expected_type": "filler"}] * (BUDGET // 2000 + 1)
        refused = b.post("/v1/jobs", json={"eval_set": cases, "include_synthetic": True})
        problem = assert_problem(refused, 429)
        assert problem["type"] == "insufficient_quota" and "eval" not in problem["title"], problem
        assert usage(b) == before and b.get("/v1/jobs").json()["data"] == jobs


def test_a_failed_jobs_eval_set_stays_counted_until_it_expires_then_leaves_the_usage(
    stack: Stack,
) -> None:
    # A database of its own: no worker or sweeper there takes this queued job for an orphan.
    redis = Redis.from_url(stack.redis_url.rsplit("/", 1)[0] + "/9", decode_responses=True)
    jobs = JobStore(redis, ended_ttl=1, project="team-c")
    space = keys.Space("team-c")
    cases = [{"input": f"case {i} " + "z" * 500, "expected_type": "t"} for i in range(20)]
    job = jobs.create({"eval_set": cases, "model": "tuneloop-keyword-baseline"}, None, 8)
    counted = budget.usage(redis, space)["eval_sets"]
    assert counted["count"] == 1 and counted["bytes"] > 20 * 500
    assert jobs.fail(job["id"], "collect", "test", "failed by the test")
    assert jobs.settle_expired(time.time()) == 0  # still stored: still counted
    assert budget.usage(redis, space)["eval_sets"] == counted
    wait_until(
        lambda: not redis.exists(keys.job_eval_set(job["id"])),
        10.0,
        lambda: "the failed job's eval set to expire",
    )
    assert jobs.settle_expired(time.time()) == counted["bytes"]
    assert budget.usage(redis, space)["eval_sets"] == {"bytes": 0, "count": 0}
    assert not redis.zscore(keys.JOBS_EXPIRING, job["id"])  # settled: off the list
    redis.flushdb()
    redis.close()


def chat_file(lines: int, seed: str) -> bytes:
    """A valid chat-format file of about 100 bytes a line that compresses poorly."""
    rows = []
    for i in range(lines):
        text = secrets.token_hex(24)  # random: zlib cannot shrink it much
        messages = [
            {"role": "user", "content": f"{seed} {i} {text}"},
            {"role": "assistant", "content": "noted"},
        ]
        rows.append(json.dumps({"messages": messages, "metadata": {"task_type": "t"}}))
    return "\n".join(rows).encode()


def test_a_file_past_the_budget_is_refused_in_openais_shape_and_leaves_nothing(
    stack: Stack,
) -> None:
    with client_for(stack, KEY_D) as d:
        small = d.post("/v1/files", files={"file": ("a.jsonl", chat_file(50, "a"))}, data=PURPOSE)
        assert small.status_code == 200, small.text
        fid = small.json()["id"]
        processed = wait_until(
            lambda: (f := d.get(f"/v1/files/{fid}").json())["status"] != "uploaded" and f,
            30.0,
            lambda: f"file {fid} to be checked",
        )
        assert processed["status"] == "processed", processed
        stored = processed["tuneloop"]["stored_bytes"]
        assert usage(d)["by_kind"]["files"] == {"bytes": stored, "count": 1}  # as kept: zlib
        before, chunks = usage(d), chunk_keys(stack)
        big = chat_file(BUDGET // 100, "b")  # past what is left of the budget
        refused = d.post("/v1/files", files={"file": ("b.jsonl", big)}, data=PURPOSE)
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["type"] == error["code"] == "insufficient_quota", error
        assert "TUNELOOP_MAX_PROJECT_BYTES" in error["message"], error
        assert usage(d) == before and chunk_keys(stack) == chunks  # nothing kept of it
        assert [f["id"] for f in d.get("/v1/files").json()["data"]] == [fid]
        assert d.delete(f"/v1/files/{fid}").status_code == 200
        assert usage(d)["by_kind"]["files"] == {"bytes": 0, "count": 0}


def chunk_keys(stack: Stack) -> list[str]:
    """Every file chunk in Redis."""
    return sorted(stack.store.redis.scan_iter(match="tuneloop:file:*:chunk:*", count=1000))


def test_an_audit_trail_at_its_bound_counts_the_events_it_keeps_and_a_delete_all_of_them(
    stack: Stack,
) -> None:
    redis = Redis.from_url(stack.redis_url.rsplit("/", 1)[0] + "/9", decode_responses=True)
    store = Store(redis).scoped("team-e")
    space = keys.Space("team-e")
    (row,) = store.interactions.add_many([item(10)])
    for i in range(MAX_EVENTS + 5):  # past the bound: the oldest events go, uncounted
        store.interactions.update(row["id"], lambda r, i=i: {**r, "rating": i / 200}, EDIT)
    events = redis.xrange(space.interaction_events(row["id"]))
    assert len(events) == MAX_EVENTS
    held = redis.strlen(space.interaction(row["id"])) + sum(len(e["event"]) for _, e in events)
    assert budget.usage(redis, space)["interactions"] == {"bytes": held, "count": 1}
    store.interactions.delete(row["id"], EDIT)
    assert budget.usage(redis, space)["interactions"] == {"bytes": 0, "count": 0}
    redis.flushdb()
    redis.close()


def test_an_upload_that_cannot_fit_is_refused_before_a_byte_of_it_is_stored(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_chunks(self: FileStore) -> None:
        raise AssertionError("a chunk writer was made for an upload that cannot fit")

    env = {"REDIS_URL": stack.redis_url, **SETTINGS}
    with gateway_app(env) as app:
        monkeypatch.setattr(FileStore, "writer", no_chunks)
        body = {"purpose": "fine-tune", "file": (io.BytesIO(chat_file(1500, "c")), "c.jsonl")}
        refused = app.test_client().post(
            "/v1/files", data=body, headers={"Authorization": f"Bearer {KEY_D}"}
        )
    assert refused.status_code == 429, refused.get_data(as_text=True)
    assert refused.get_json()["error"]["code"] == "insufficient_quota"


def list_bytes(redis: Redis, key: str) -> int:
    """The bytes of a list's elements, as the case store counts them."""
    return sum(len(raw.encode()) for raw in redis.lrange(key, 0, -1))


@contextlib.contextmanager
def budgeted_worker(stack: Stack) -> Iterator[None]:
    """Run the stack's jobs on a worker that counts the budget too (w1 knows none), then
    give w1 back."""
    stack.remove("w1")
    stack.start_worker("w-budget", env=SETTINGS)
    try:
        yield
    finally:
        stack.remove("w-budget")
        stack.start_worker("w1")


def test_a_job_whose_both_wrong_cases_do_not_fit_succeeds_without_them_and_says_why(
    stack: Stack,
) -> None:
    # Large cases of a task neither agent knows (both get them wrong): their records take the
    # project past its budget, the regressed and improved ones fit.
    unknown = [{"input": f"{i} " + "q" * 2000, "expected_type": "unknown"} for i in range(6)]
    with budgeted_worker(stack), client_for(stack, KEY_E) as e:
        seed_interactions(e)
        job_id = create_job(e, 2, eval_set=unknown)
        job = wait_job_status(e, stack, job_id, ("succeeded", "failed"), 120.0)
        assert job["status"] == "succeeded", describe_job(stack, job_id)
        cases = job["result"]["cases"]
        assert "wrong" not in cases and set(cases) == {"regressed", "improved"}, cases
        redis = stack.store.redis
        assert redis.llen(keys.job_cases(job_id, "both_wrong")) == 0
        kept = sum(list_bytes(redis, keys.job_cases(job_id, o)) for o in ("regressed", "improved"))
        assert redis.hget(keys.job(job_id), "cases_bytes") == str(kept)
        assert usage(e)["bytes"] + 6 * 2000 > BUDGET  # the both-wrong records did not fit
        warned = [
            ev
            for ev in e.get(f"/v1/jobs/{job_id}/events").json()["data"]
            if ev["level"] == "warning" and "both agents got wrong" in ev["message"]
        ]
        assert warned and "byte budget" in warned[0]["message"], warned
        wrong = e.get(f"/v1/jobs/{job_id}/cases", params={"outcome": "wrong"})
        assert_problem(wrong, 409)
        assert "did not fit its project's byte budget" in wrong.json()["detail"]
        assert e.get(f"/v1/jobs/{job_id}/cases", params={"outcome": "regressed"}).status_code == 200
