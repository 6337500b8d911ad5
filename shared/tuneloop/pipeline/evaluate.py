"""What every evaluate_* stage does: load a model as a worker would, answer the eval cases.

The stages evaluate_baseline, evaluate_fine_tuned (fine-tuning jobs), evaluate_model_a and
evaluate_model_b (evaluation jobs) are each a module of their name calling these. The pure
side, the metrics, is tuneloop.stages.evaluate.
"""

import time

from tuneloop.agent import registry
from tuneloop.agent.protocol import Agent
from tuneloop.errors import StageError
from tuneloop.job_request import request_of
from tuneloop.pipeline import data
from tuneloop.report import outcomes, routes
from tuneloop.stages.evaluate import MetricsAccumulator
from tuneloop.store import Store

EVAL_BATCH = 2000
# An evaluation job's models and their roles in the report: model_a is read as the baseline,
# model_b as the candidate, so its report has the same shape (gate, cases) as a fine-tuning
# job's.
ROLES = {"model_a": "baseline", "model_b": "fine_tuned"}


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
    route = getattr(agent, "route_many", None) if request_of(job).out_of_scope_task else None
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


def evaluate_model(store: Store, job: dict, field: str) -> None:
    """Load the model an evaluation job's field names, as a worker would; answer its eval set."""
    mid = getattr(request_of(job), field)
    agent = registry.builtin(mid) or load_agent(store, job, mid, f"evaluate_{field}")
    evaluate_agent(store, job, agent, ROLES[field])
