"""What each stage reads from and writes to the store around its pure function."""

import time

from tuneloop import contracts, graph
from tuneloop.agent import registry
from tuneloop.agent.protocol import Agent
from tuneloop.errors import StageError
from tuneloop.pipeline import data
from tuneloop.pipeline import fine_tune as fine_tune_stage
from tuneloop.pipeline.runner import Limits
from tuneloop.report import evidence, outcomes, promotion, routes, scope
from tuneloop.report.cases import discordant
from tuneloop.stages import compare as cmp
from tuneloop.stages.evaluate import MetricsAccumulator
from tuneloop.stages.filter import MaskWriter, QualityFilter
from tuneloop.stages.prepare import (
    SplitCounter,
    StratifiedHoldout,
    auto_fields,
    held_to_bytes,
    resolve,
)
from tuneloop.store import Store
from tuneloop.store.artifacts import HELD_OUT
from tuneloop.text import normalize

EVAL_BATCH = 2000


model_id_for = fine_tune_stage.model_id_for


def collect(store: Store, job: dict, limits: Limits) -> None:
    """Count the snapshot of interactions that existed when the job was created."""
    n = data.collected_count(store, job)
    store.jobs.add_event(
        job["id"], "collect:count", "message", f"collected {n} examples", {"collected": n}
    )


def filter_(store: Store, job: dict, limits: Limits) -> None:
    """Mark, one bit a row, the collected examples that pass the job's quality rules."""
    req = job["request"]
    eval_inputs = frozenset(normalize(c["input"]) for c in data.given_cases(store, job))
    rules = QualityFilter(
        min_score=req["min_score"],
        score_name=req.get("score_name", contracts.RATING_SCORE),
        task_types=frozenset(req["task_types"]) if req.get("task_types") else None,
        excluded_inputs=eval_inputs,
    )
    mask = MaskWriter()
    for batch in data.collected(store, job):
        mask.extend(rules.judge(batch))
    store.artifacts.put_blob(job["id"], "kept", mask.getvalue())
    store.artifacts.put(job["id"], "dropped", dict(rules.dropped))
    store.jobs.add_event(
        job["id"],
        "filter:count",
        "message",
        f"kept {rules.kept} examples, dropped {sum(rules.dropped.values())}",
        {"kept": rules.kept, "dropped": dict(rules.dropped)},
    )
    unlabelled = rules.dropped.get("no_task_type", 0)
    if unlabelled:
        store.jobs.add_event(
            job["id"],
            "filter:no_task_type",
            "message",
            f"{unlabelled} rows of the training file have no metadata.task_type and were not "
            "trained on: this agent learns routing from task types",
            {"no_task_type": unlabelled},
            level="warning",
        )
    if rules.kept == 0:
        raise StageError(
            "no_training_data", f"no example passed the filter (dropped: {dict(rules.dropped)})"
        )


def prepare(store: Store, job: dict, limits: Limits) -> None:
    """Count the split, describe the training data and resolve the "auto" controls."""
    jid = job["id"]
    counter = count_split(store, job)  # picks a stratified holdout first
    summary = counter.summary(store.artifacts.get(jid, "dropped"))
    check_evaluation_set(store, job, summary["holdout_examples"])
    requested = job["request"]["hyperparameters"]
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
    if holdout is not None and job["request"].get("holdout_per_task"):
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
    fraction = job["request"].get("holdout_fraction")
    why = "the request has no eval_set, no holdout_fraction and no lab_eval_set"
    if fraction is not None:
        why = f"holdout_fraction {fraction} held out no row (no task type has two distinct inputs)"
    raise StageError(
        "empty_evaluation_set",
        f"the evaluation set would be empty: {why}; post more rows per task type, or give an "
        "eval_set (or lab_eval_set: true for the lab's five test cases)",
    )


def evaluate_baseline(store: Store, job: dict, limits: Limits) -> None:
    """Answer the evaluation suite with the keyword baseline."""
    evaluate_agent(store, job, registry.builtin(contracts.BASELINE_MODEL_ID), "baseline")


def evaluate_fine_tuned(store: Store, job: dict, limits: Limits) -> None:
    """Load the fine-tuned model as a worker would, and answer the evaluation suite with it."""
    agent = load_agent(store, job, model_id_for(job), "evaluate_fine_tuned")
    evaluate_agent(store, job, agent, "fine_tuned")


def load_agent(store: Store, job: dict, mid: str, stage: str) -> Agent:
    """Load a stored model as a worker would; record the load time on the model and the job."""
    started = time.perf_counter()
    loaded = store.models.load(mid)
    if loaded is None:
        raise StageError("model_missing", f"model {mid} was not saved (in a format known here)")
    agent, size = loaded
    seconds = time.perf_counter() - started
    store.models.annotate(mid, load_seconds=round(seconds, 4))
    store.jobs.add_event(
        job["id"],
        f"{stage}:load",
        "message",
        f"loaded model {mid} ({size} bytes) in {seconds * 1000:.0f} ms",
        {"model_id": mid, "size_bytes": size, "load_seconds": seconds},
    )
    return agent


def evaluate_agent(store: Store, job: dict, agent: Agent, name: str) -> None:
    """Answer every evaluation case in bounded batches; keep metrics, per-case outcomes, answers."""
    acc, log = MetricsAccumulator(), outcomes.OutcomeLog()
    # an agent that abstains to the job's out-of-scope task also says where it routed each case
    route = getattr(agent, "route_many", None) if job["request"].get("out_of_scope_task") else None
    route_log, answer = routes.RouteLog(), registry.evaluator(agent.format)
    for cases in data.evaluation_cases(store, job):
        for start in range(0, len(cases), EVAL_BATCH):
            chunk = cases[start : start + EVAL_BATCH]
            answers = [a.to_dict() for a in answer(agent, [c["input"] for c in chunk])]
            log.add(chunk, answers, acc.add(chunk, answers))
            if route is not None:
                route_log.add(*route([c["input"] for c in chunk]))
    store.artifacts.put(job["id"], f"{name}_metrics", acc.result())
    store.artifacts.put(job["id"], f"{name}_examples", acc.first_answers)
    store.artifacts.put_blob(job["id"], f"{name}_outcomes", outcomes.dump(log.outcomes()))
    if route is not None:
        store.artifacts.put_blob(job["id"], f"{name}_routes", routes.dump(route_log.routes()))


def evaluation_report(store: Store, job: dict, seed: int, abstention: dict | None) -> dict:
    """Compare the two evaluated agents: metrics, intervals, classification, cases, scope."""
    jid, art = job["id"], store.artifacts
    base, tuned = art.get(jid, "baseline_metrics"), art.get(jid, "fine_tuned_metrics")
    base_examples, tuned_examples = (
        art.get(jid, "baseline_examples"),
        art.get(jid, "fine_tuned_examples"),
    )
    report = {
        "baseline_metrics": base,
        "fine_tuned_metrics": tuned,
        "improvement": cmp.improvement(base, tuned),
        "examples": cmp.side_by_side(
            [e["case"] for e in base_examples],
            [e["answer"] for e in base_examples],
            [e["answer"] for e in tuned_examples],
        ),
    }
    base_out, tuned_out = (
        outcomes.load(art.get_blob(jid, f"{name}_outcomes")) for name in ("baseline", "fine_tuned")
    )
    if base_out is None or tuned_out is None:  # evaluated by an older worker: report without
        message = "per-case outcomes missing or of an older worker: no intervals, no case lists"
        store.jobs.add_event(jid, "compare:no_outcomes", "message", message, level="warning")
        return report
    try:
        extra = evidence.additions(base, tuned, report["improvement"], base_out, tuned_out, seed)
        records = discordant(data.evaluation_cases(store, job), base_out, tuned_out)
        counts = store.cases.replace(jid, records, job.get("lease_holder", ""))
    except outcomes.UnpairedError as exc:
        raise StageError("evaluation_unpaired", str(exc)) from None
    task = job["request"].get("out_of_scope_task")
    tuned_routes = routes.load(art.get_blob(jid, "fine_tuned_routes")) if task else None
    oos = scope.out_of_scope(task, abstention, base_out, tuned_out, tuned_routes) if task else None
    return {**report, **extra, "out_of_scope": oos, "cases": counts}


def compare(store: Store, job: dict, limits: Limits) -> dict:
    """Assemble the report and judge the promotion gate; the runner ends the job with it."""
    jid, art = job["id"], store.artifacts
    training, hyperparameters = art.get(jid, "training"), art.get(jid, "hyperparameters")
    report = {
        "training_data": art.get(jid, "training_data"),
        "hyperparameters": hyperparameters,
        "model_id": model_id_for(job),
        **training,
        **evaluation_report(store, job, hyperparameters["seed"], training.get("abstention")),
    }
    decision = promotion.decide(job["request"].get("promote_if") or [], report)
    if decision is not None:
        report["promotion"] = decision
        store.jobs.add_event(
            jid,
            "compare:promotion",
            "message",
            decision["reason"],
            {"promoted": decision["promoted"]},
        )
    return report


def fine_tune(store: Store, job: dict, limits: Limits) -> None:
    """Train on the training side, resuming from the last epoch checkpoint; save the model."""
    fine_tune_stage.run(store, job, limits)
