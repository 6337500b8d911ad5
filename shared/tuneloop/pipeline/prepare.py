"""The prepare stage: count the split, describe the training data, resolve "auto" controls.

Its pure side is tuneloop.stages.prepare (the split, the counters, the auto controls).
"""

from tuneloop import graph
from tuneloop.agent import registry
from tuneloop.errors import StageError
from tuneloop.job_request import request_of
from tuneloop.pipeline import data
from tuneloop.pipeline.runner import Limits
from tuneloop.stages.prepare import (
    SplitCounter,
    StratifiedHoldout,
    auto_fields,
    held_to_bytes,
    resolve,
)
from tuneloop.store import Store
from tuneloop.store.artifacts import HELD_OUT


def run(store: Store, job: dict, limits: Limits) -> None:
    """Count the split, describe the training data and resolve the "auto" controls."""
    jid = job["id"]
    counter = count_split(store, job)  # picks a stratified holdout first
    summary = counter.summary(store.artifacts.get(jid, "dropped"))
    check_evaluation_set(store, job, summary["holdout_examples"])
    requested = dict(request_of(job).hyperparameters)
    own = registry.job_hook(request_of(job).model, "resolve")
    if own is not None:
        resolved = own(request_of(job), summary["total_examples"])
    else:
        resolved = resolve(requested, summary["total_examples"])
    store.artifacts.put(jid, "training_data", summary)
    store.artifacts.put(jid, "hyperparameters", resolved)
    store.jobs.update_if_active(
        jid, hyperparameters=resolved, total_steps=graph.progress_total(resolved["n_epochs"])
    )
    chosen = ", ".join(f"{k}={resolved[k]}" for k in auto_fields(requested)) or "none"
    store.jobs.add_event(
        jid, "prepare:auto", "message", f"auto hyperparameters: {chosen}", {"resolved": resolved}
    )
    for task in counter.untrained_tasks():
        store.jobs.add_event(
            jid,
            f"prepare:untrained:{task}",
            "message",
            f"task type {task!r} has no training example: all were held out by the split",
            {"task_type": task},
            level="warning",
        )


def count_split(store: Store, job: dict) -> SplitCounter:
    """Count the split; with holdout_per_task, first pick the stratified holdout and keep it
    for the later stages."""
    seed, holdout = data.split_of(job)
    held: frozenset[int] = frozenset()
    if holdout is not None and request_of(job).holdout_per_task:
        picker = StratifiedHoldout(seed, holdout)
        for batch in data.kept(store, job):
            picker.feed(batch)
        held = picker.held()
        holdout = None  # held out by rank, not by band
        store.artifacts.put_blob(job["id"], HELD_OUT, held_to_bytes(held))
    counter = SplitCounter(seed, holdout, held)
    for batch in data.kept(store, job):
        counter.feed(batch)
    return counter


def check_evaluation_set(store: Store, job: dict, held_out: int) -> None:
    """Fail the job when nothing would be evaluated: never fall back to other cases."""
    if held_out or data.given_cases(store, job):
        return
    fraction = request_of(job).holdout_fraction
    why = "the request has no eval_set, no holdout_fraction and no lab_eval_set"
    if fraction is not None:
        why = f"holdout_fraction {fraction} held out no row (no task type has two distinct inputs)"
    raise StageError(
        "empty_evaluation_set",
        f"the evaluation set would be empty: {why}; post more rows per task type, or give an "
        "eval_set (or lab_eval_set: true for the lab's five test cases)",
    )
