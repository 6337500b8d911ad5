"""The embed stage: a kind that reads its inputs as embeddings has them encoded ahead, in parts.

The plan (`run`) takes the job's texts (every kept row's input, whatever its side, and the
given eval cases), keeps one per digest, drops those the embedding cache has, and cuts the
rest into parts of limits.embed_part_size texts, each a job artifact; the parts run as a
Celery group over every pipeline worker (tuneloop.pipeline.fanout). A part encodes its texts
through the kind's "embed" hook into the cache (`part`); the last one's `join` writes the
summary. A kind without an "embed" hook (the stand-in agent) passes at once, and so does a
job whose texts are all cached.
"""

import time
from itertools import chain

from tuneloop import graph
from tuneloop.agent import registry
from tuneloop.encoder import embedding
from tuneloop.encoder.spec import TAG
from tuneloop.errors import StageSkipped
from tuneloop.job_request import request_of
from tuneloop.pipeline import data, fanout
from tuneloop.pipeline.runner import Limits
from tuneloop.stages import embed as stage
from tuneloop.store import Store

STAGE = "embed"
SUMMARY = "embedding"  # the artifact the report carries as its `embedding`


def run(store: Store, job: dict, limits: Limits) -> None:
    """Plan the job's parts (once) and raise FannedOut naming those not done; or return."""
    if registry.job_hook(request_of(job).model, "embed") is None:
        return
    plan = fanout.planned(store, job["id"], STAGE) or make_plan(store, job, limits)
    fanout.send_rest(store, job["id"], STAGE, plan)


def texts(store: Store, job: dict) -> chain[str]:
    """Yield the texts the job embeds: kept rows' inputs (all sides), then the given cases'."""
    rows = (row["input"] for batch in data.kept(store, job) for row in batch)
    return chain(rows, (case["input"] for case in data.given_cases(store, job)))


def make_plan(store: Store, job: dict, limits: Limits) -> dict:
    """Store the parts of the distinct texts the cache lacks, and the plan; return the plan."""
    jid = job["id"]
    n, found = stage.distinct(texts(store, job), embedding.digest)
    todo = [found[d] for d in store.embeddings.missing(TAG, list(found))]
    about = {"texts": n, "distinct": len(found), "cached": len(found) - len(todo)}
    plan = fanout.save_plan(store, jid, STAGE, stage.cut(todo, limits.embed_part_size), about)
    store.jobs.add_event(
        jid,
        "embed:plan",
        "message",
        f"embed: {n} texts, {len(found)} distinct, {about['cached']} cached; "
        f"{len(todo)} to encode in {plan['parts']} parts",
        {**about, "to_encode": len(todo), "parts": plan["parts"]},
    )
    n_epochs = store.artifacts.get(jid, "hyperparameters")["n_epochs"]
    total = graph.progress_total(n_epochs) + fanout.parts_planned(store, jid)
    store.jobs.update_if_active(jid, total_steps=total)
    if not plan["parts"]:
        store.artifacts.put(jid, SUMMARY, stage.summarize(plan, []))
    return plan


def part(store: Store, job: dict, index: int, limits: Limits) -> dict:
    """Encode one part's texts into the cache (misses only); return its counts."""
    embed = registry.job_hook(request_of(job).model, "embed")
    if embed is None:
        raise StageSkipped(f"job {job['id']} embeds nothing")
    texts_ = fanout.part_input(store, job["id"], STAGE, index)
    began = time.monotonic()
    embedded = embed(texts_, store.embeddings)
    return {
        "texts": len(texts_),
        "encoded": embedded.encoded,
        "seconds": round(time.monotonic() - began, 3),
    }


def join(store: Store, job: dict, limits: Limits) -> None:
    """Summarise the parts: the `embedding` artifact and the embed:summary event."""
    jid = job["id"]
    plan = fanout.planned(store, jid, STAGE) or {}
    summary = stage.summarize(plan, store.parts.reports(jid, STAGE).values())
    store.artifacts.put(jid, SUMMARY, summary)
    rate = summary["texts_per_s"]
    store.jobs.add_event(
        jid,
        "embed:summary",
        "message",
        f"embed: {summary['encoded']} texts encoded in {summary['seconds']:g}s"
        f"{f' ({rate:g}/s)' if rate else ''} by {len(summary['workers'])} worker processes "
        f"on {', '.join(summary['hosts'])}",
        summary,
    )
