"""The filter stage: mark, one bit a row, the collected examples that pass the quality rules.

Its pure side is tuneloop.stages.filter (the rules and the packed mask).
"""

from tuneloop.agent import registry
from tuneloop.errors import StageError
from tuneloop.job_request import request_of
from tuneloop.pipeline import data
from tuneloop.pipeline.runner import Limits
from tuneloop.stages.filter import MaskWriter, QualityFilter
from tuneloop.store import Store
from tuneloop.text import normalize


def quality_rules(job: dict, eval_inputs: frozenset[str]) -> QualityFilter:
    """Return the job's quality rules: its model kind's own (a hook), else the stand-in's."""
    req = request_of(job)
    own = registry.job_hook(req.model, "filter")
    if own is not None:
        return own(req, eval_inputs)
    return QualityFilter(
        min_score=req.min_score,
        score_name=req.score_name,
        task_types=req.task_types,
        excluded_inputs=eval_inputs,
    )


def run(store: Store, job: dict, limits: Limits) -> None:
    """Mark, one bit a row, the collected examples that pass the job's quality rules."""
    eval_inputs = frozenset(normalize(c["input"]) for c in data.given_cases(store, job))
    rules = quality_rules(job, eval_inputs)
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
