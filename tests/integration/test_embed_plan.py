"""The embed stage's plan and its parts' Lua step, run in this process on the session's Redis.

The plan keeps one text per digest, drops what the embedding cache holds, stores the parts
and is made once; a part is marked done once, and only the call that adds the last one marks
the stage done. The fanned-out stage on real workers is test_embed_fanout.py's.
"""

from collections.abc import Iterator

import pytest
from celery import Celery

from tuneloop import contracts, graph
from tuneloop.canvas import parts_canvas
from tuneloop.encoder import embedding
from tuneloop.encoder.spec import BASE_MODEL, DIM, TAG
from tuneloop.errors import FannedOut, StageSkipped
from tuneloop.pipeline import embed, fanout
from tuneloop.pipeline.runner import Limits, run_stage, work_of
from tuneloop.schemas.jobs import JobInSchema
from tuneloop.store import Store, keys
from tuneloop.store.parts import part_step
from tuneloop.store.sweeps import SweepStore

from .support import STAGES, Stack, seeded_store

pytestmark = pytest.mark.integration

WORDS = {"billing": "invoice refund charge", "hiking": "trail summit boots"}  # 120 rows
PART_SIZE = 32
N_EPOCHS = 2


@pytest.fixture(scope="module")
def store(stack: Stack) -> Iterator[Store]:
    """The session's store with two task types of data; every job left open is cancelled."""
    yield from seeded_store(stack, WORDS)


@pytest.fixture(autouse=True)
def empty_cache(store: Store) -> None:
    """Each test starts with an empty embedding cache."""
    found = list(store.redis.scan_iter(match=keys.embedding("*", "*"), count=1000))
    if found:
        store.redis.delete(*found)
    store.redis.delete(keys.EMBEDDING_INDEX)


def prepared_job(store: Store, model: str = BASE_MODEL) -> dict:
    """Create a job of model and run it up to (not including) embed."""
    request = JobInSchema().load(
        {
            "model": model,
            "include_synthetic": False,
            "lab_eval_set": True,
            "hyperparameters": {"n_epochs": N_EPOCHS, "seed": 3},
        }
    )
    job = store.jobs.create(request, store.interactions.last_seq(), len(STAGES) + N_EPOCHS)
    for stage in ("collect", "filter", "prepare"):
        run_stage(store, job["id"], stage, work_of(stage))
    return job


def plan(store: Store, job: dict) -> tuple[int, ...]:
    """Run the embed stage; return the parts it sends (none when it passed)."""
    try:
        run_stage(store, job["id"], "embed", work_of("embed"), Limits(embed_part_size=PART_SIZE))
    except FannedOut as sent:
        return sent.parts
    return ()


def job_texts(store: Store, job: dict) -> dict[str, str]:
    """Return the job's distinct texts by digest."""
    return {embedding.digest(t): t for t in embed.texts(store, job)}


def planned_texts(store: Store, job: dict) -> list[str]:
    """Return the texts of every planned part, in order."""
    n = fanout.planned(store, job["id"], "embed")["parts"]
    return [t for i in range(n) for t in fanout.part_input(store, job["id"], "embed", i)]


def test_the_plan_cuts_the_distinct_texts_into_parts_and_counts_them_in_the_progress(
    store: Store,
) -> None:
    job = prepared_job(store)
    distinct = job_texts(store, job)
    parts = plan(store, job)
    n = -(-len(distinct) // PART_SIZE)
    assert parts == tuple(range(n)) and n > 1
    assert sorted(planned_texts(store, job)) == sorted(distinct.values())
    assert "embed" not in store.jobs.steps_done(job["id"])  # the parts mark it
    [event] = [
        e for e in store.jobs.events(job["id"], limit=1000)[0] if e["message"].startswith("embed:")
    ]
    assert event["data"]["to_encode"] == len(distinct) and event["data"]["parts"] == n
    assert store.jobs.get(job["id"])["progress"]["total"] == len(STAGES) + N_EPOCHS + n


def test_the_plan_leaves_out_what_the_cache_holds(store: Store) -> None:
    job = prepared_job(store)
    distinct = job_texts(store, job)
    cached = sorted(distinct)[: len(distinct) // 2]
    store.embeddings.put_many(TAG, cached, [bytes(2 * DIM)] * len(cached))
    plan(store, job)
    assert sorted(planned_texts(store, job)) == sorted(
        t for d, t in distinct.items() if d not in cached
    )


def test_with_every_text_cached_the_stage_is_done_at_once(store: Store) -> None:
    job = prepared_job(store)
    digests = list(job_texts(store, job))
    store.embeddings.put_many(TAG, digests, [bytes(2 * DIM)] * len(digests))
    assert plan(store, job) == ()
    assert "embed" in store.jobs.steps_done(job["id"])
    assert store.artifacts.get(job["id"], "embedding")["encoded"] == 0


def test_the_default_kind_passes_embed_at_once_with_no_plan(store: Store) -> None:
    job = prepared_job(store, model=contracts.BASELINE_MODEL_ID)
    assert plan(store, job) == ()
    assert "embed" in store.jobs.steps_done(job["id"])
    assert fanout.planned(store, job["id"], "embed") is None


def test_a_part_is_counted_once_and_only_the_last_one_marks_the_stage_done(
    store: Store,
) -> None:
    jid = prepared_job(store)["id"]

    def mark(index: int) -> tuple[bool, bool]:
        marked = store.parts.mark_done(jid, "embed", index, 3, {"index": index})
        return marked.added, marked.completed

    assert mark(0) == (True, False)
    assert mark(0) == (False, False)  # redelivered: counts nothing
    assert mark(2) == (True, False)
    assert "embed" not in store.jobs.steps_done(jid)
    assert mark(1) == (True, True)  # this call completed the set
    assert mark(1) == (False, False) and mark(2) == (False, False)
    steps = store.jobs.steps_done(jid)
    assert {part_step("embed", i) for i in range(3)} | {"embed"} <= steps
    assert store.parts.done(jid, "embed") == {0, 1, 2}
    assert store.parts.reports(jid, "embed") == {i: {"index": i} for i in range(3)}


def test_a_plan_run_again_sends_only_the_parts_not_done_and_passes_when_all_are(
    store: Store,
) -> None:
    job = prepared_job(store)
    first = plan(store, job)
    planned_at = fanout.planned(store, job["id"], "embed")["planned_at"]
    for index in first[:-1]:
        store.parts.mark_done(job["id"], "embed", index, len(first), {})
    assert plan(store, job) == first[-1:]  # the same plan, not made again
    assert fanout.planned(store, job["id"], "embed")["planned_at"] == planned_at
    # Every part done but the stage not marked (the completing worker died before its step).
    store.redis.sadd(keys.job_parts_done(job["id"], "embed"), first[-1])
    assert plan(store, job) == ()
    assert "embed" in store.jobs.steps_done(job["id"])


def test_a_part_encodes_its_texts_into_the_cache_and_one_of_an_ended_job_skips(
    store: Store,
) -> None:
    job = prepared_job(store)
    parts = plan(store, job)
    completed = fanout.run_part(store, job["id"], "embed", parts[0], Limits())
    assert not completed
    texts = fanout.part_input(store, job["id"], "embed", parts[0])
    assert store.embeddings.missing(TAG, [embedding.digest(t) for t in texts]) == []
    [report] = store.parts.reports(job["id"], "embed").values()
    assert report["encoded"] == report["texts"] == len(texts)
    with pytest.raises(StageSkipped, match="is done"):  # redelivered: runs nothing
        fanout.run_part(store, job["id"], "embed", parts[0], Limits())
    store.cancel_job(job["id"])
    with pytest.raises(StageSkipped, match="cancelled"):
        fanout.run_part(store, job["id"], "embed", parts[1], Limits())


def test_the_graph_declares_embed_as_fanned_out_between_prepare_and_fine_tune() -> None:
    assert graph.NEEDS["embed"] == ("prepare",)
    assert graph.NEEDS["fine_tune"] == ("embed",)
    assert graph.NEEDS["evaluate_baseline"] == ("prepare",)
    assert frozenset({"embed"}) == graph.FANNED


def test_the_sweeper_sees_a_job_whose_only_messages_are_its_parts(stack: Stack) -> None:
    celery = Celery("test-parts", broker=stack.redis_url, set_as_current=False)
    queue = "tests.parts.nobody"  # no worker consumes it: the messages stay there
    try:
        parts_canvas(celery, "ftjob-parts-only", "embed", (0, 1)).apply_async(queue=queue)
        sweeps = SweepStore(stack.store.redis)
        found = sweeps.with_messages(["ftjob-parts-only", "ftjob-other"], [queue])
        assert found == {"ftjob-parts-only"}
    finally:
        stack.store.redis.delete(queue)
        celery.close()
