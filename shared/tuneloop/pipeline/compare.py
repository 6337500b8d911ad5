"""The compare stage: the report (metrics, intervals, cases, scope) and the promotion gate.

evaluation_report is shared with the evaluation job's compare_models. The pure side is
tuneloop.stages.compare; the statistics are tuneloop.report.
"""

from tuneloop.agent import registry
from tuneloop.errors import StageError
from tuneloop.job_request import request_of
from tuneloop.pipeline import data
from tuneloop.pipeline.fine_tune import OVER_BUDGET, model_id_for
from tuneloop.pipeline.runner import Limits
from tuneloop.report import evidence, outcomes, promotion, routes, scope
from tuneloop.report.cases import case_records
from tuneloop.stages import compare as cmp
from tuneloop.store import Store
from tuneloop.store.budget import BudgetExceeded
from tuneloop.store.cases import OPTIONAL


def run(store: Store, job: dict, limits: Limits) -> dict:
    """Assemble the report and judge the promotion gate; the runner ends the job with it."""
    jid, art = job["id"], store.artifacts
    training, hyperparameters = art.get(jid, "training"), art.get(jid, "hyperparameters")
    report = {
        "training_data": art.get(jid, "training_data"),
        "hyperparameters": hyperparameters,
        "model_id": model_id_for(job),
        **training,
        **_evaluation(store, job, hyperparameters["seed"], training.get("abstention")),
    }
    embedded = art.get_or_none(jid, "embedding")  # the embed stage's summary, when it embedded
    if embedded is not None:
        report["embedding"] = {
            k: embedded[k] for k in ("texts", "encoded", "cached", "parts", "seconds")
        }
    decision = promotion.decide(list(request_of(job).promote_if), report)
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


def _evaluation(store: Store, job: dict, seed: int, abstention: dict | None) -> dict:
    """Return the report's evaluation part: the model kind's own (a hook), else the agents'."""
    own = registry.job_hook(request_of(job).model, "report")
    if own is not None:
        return own(store, job, seed)
    return evaluation_report(store, job, seed, abstention)


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
        records = case_records(data.evaluation_cases(store, job), base_out, tuned_out)
        stored = store.cases.replace(jid, records, job.get("lease_holder", ""))
    except outcomes.UnpairedError as exc:
        raise StageError("evaluation_unpaired", str(exc)) from None
    except BudgetExceeded as exc:
        message = f"its cases were not kept: {exc.describe(job['project'])}"
        raise StageError(OVER_BUDGET, message) from None
    if OPTIONAL not in stored:
        message = (
            f"the cases both agents got wrong were not kept: with them the case lists would "
            f"take project {job['project']} past its byte budget; outcome=wrong is not listed"
        )
        store.jobs.add_event(jid, "compare:both_wrong_dropped", "message", message, level="warning")
    counts = cmp.case_counts(stored)
    task = request_of(job).out_of_scope_task
    tuned_routes = routes.load(art.get_blob(jid, "fine_tuned_routes")) if task else None
    oos = scope.out_of_scope(task, abstention, base_out, tuned_out, tuned_routes) if task else None
    return {**report, **extra, "out_of_scope": oos, "cases": counts}
