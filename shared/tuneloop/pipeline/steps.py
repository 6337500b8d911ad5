"""What each stage reads from and writes to the store around its pure function."""

from tuneloop import contracts, failpoints
from tuneloop.agent.baseline import KeywordAgent
from tuneloop.agent.learned import LearnedAgent
from tuneloop.agent.router import Hyperparameters
from tuneloop.errors import JobCancelled, StageError
from tuneloop.stages import compare as cmp
from tuneloop.stages.collect import collect as collect_examples
from tuneloop.stages.evaluate import evaluation_cases, metrics
from tuneloop.stages.filter import QualityFilter
from tuneloop.stages.fine_tune import fine_tune as train_agent
from tuneloop.stages.prepare import DEFAULT_VALIDATION_FRACTION, split, summarize
from tuneloop.stages.text import normalize
from tuneloop.store import Store
from tuneloop.timeutil import now


def model_id_for(job: dict) -> str:
    """Return the id the job's fine-tuned model is saved under (stable across retries)."""
    suffix = job["request"].get("suffix")
    tail = job["id"].removeprefix("ftjob-")[:12]
    return f"ft-{suffix}-{tail}" if suffix else f"ft-{tail}"


def collect(store: Store, job: dict) -> None:
    """Snapshot the interactions that existed when the job was created."""
    batches = store.interactions.snapshot(job["snapshot_seq"])
    rows = collect_examples(batches, job["request"]["include_synthetic"])
    n = store.artifacts.put_rows(job["id"], "collected", rows)
    store.jobs.add_event(
        job["id"], "collect:count", "message", f"collected {n} examples", {"collected": n}
    )


def filter_(store: Store, job: dict) -> None:
    """Keep the collected examples that pass the job's quality rules."""
    req = job["request"]
    cases = evaluation_cases(req.get("eval_set"), None)
    rules = QualityFilter(
        min_score=req["min_score"],
        task_types=frozenset(req["task_types"]) if req.get("task_types") else None,
        excluded_inputs=frozenset(normalize(c["input"]) for c in cases),
    )
    batches = (rules.feed(b) for b in store.artifacts.rows(job["id"], "collected"))
    kept = store.artifacts.put_rows(job["id"], "filtered", batches)
    store.artifacts.put(job["id"], "dropped", dict(rules.dropped))
    store.jobs.add_event(
        job["id"],
        "filter:count",
        "message",
        f"kept {kept} examples, dropped {sum(rules.dropped.values())}",
        {"kept": kept, "dropped": dict(rules.dropped)},
    )
    if kept == 0:
        raise StageError(
            "no_training_data", f"no example passed the filter (dropped: {dict(rules.dropped)})"
        )


def prepare(store: Store, job: dict) -> None:
    """Split the filtered examples and fix the evaluation suite."""
    req, jid = job["request"], job["id"]
    fraction = req.get("holdout_fraction")
    seed = req["hyperparameters"]["seed"]
    train, validation = split(
        store.artifacts.all_rows(jid, "filtered"),
        fraction if fraction is not None else DEFAULT_VALIDATION_FRACTION,
        seed,
    )
    store.artifacts.put(jid, "train", train)
    store.artifacts.put(jid, "validation", validation)
    store.artifacts.put(
        jid, "training_data", summarize(train, validation, store.artifacts.get(jid, "dropped"))
    )
    holdout = validation if fraction is not None else None
    store.artifacts.put(jid, "eval_cases", evaluation_cases(req.get("eval_set"), holdout))


def evaluate_baseline(store: Store, job: dict) -> None:
    """Answer the evaluation suite with the keyword baseline."""
    cases = store.artifacts.get(job["id"], "eval_cases")
    agent = KeywordAgent()
    answers = [agent.respond(c["input"]).to_dict() for c in cases]
    store.artifacts.put(job["id"], "baseline_answers", answers)
    store.artifacts.put(job["id"], "baseline_metrics", metrics(cases, answers))


def fine_tune(store: Store, job: dict) -> None:
    """Train the agent on the training split, resuming from the last epoch checkpoint."""
    jid, hp = job["id"], Hyperparameters(**job["request"]["hyperparameters"])
    resume = store.artifacts.get_or_none(jid, "checkpoint")
    epochs = list(resume["epochs"]) if resume else []
    if resume:
        store.jobs.add_event(
            jid,
            f"resume:{resume['epoch']}",
            "message",
            f"resuming fine-tuning after epoch {resume['epoch']}",
            {"epoch": resume["epoch"]},
        )

    def on_epoch(epoch: int, train_loss: float, valid_loss: float | None) -> None:
        """Record the epoch's losses and progress."""
        epochs.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss})
        _record_epoch(store, jid, hp.n_epochs, epochs[-1])
        failpoints.hit("epoch", epoch)

    def on_checkpoint(state: dict) -> None:
        """Save the epoch's weights; stop here if the job was cancelled."""
        store.artifacts.put(jid, "checkpoint", {**state, "epochs": epochs})
        if store.jobs.status(jid) == contracts.CANCELLED:
            raise JobCancelled(jid)

    train = store.artifacts.get(jid, "train")
    validation = store.artifacts.get(jid, "validation")
    body = train_agent(train, validation, hp, model_id_for(job), on_epoch, resume, on_checkpoint)
    if store.jobs.status(jid) == contracts.CANCELLED:
        raise JobCancelled(jid)  # cancelled after the last epoch: publish no model
    store.models.save(_model_meta(job, body, len(train)), body)
    store.artifacts.put(jid, "epochs", epochs)
    store.jobs.update_if_active(jid, model_id=model_id_for(job))


def _record_epoch(store: Store, jid: str, n_epochs: int, row: dict) -> None:
    """Write one epoch's losses as an event (once) and count the epoch as progress."""
    valid = "n/a" if row["valid_loss"] is None else f"{row['valid_loss']:.4f}"
    message = (
        f"epoch {row['epoch']}/{n_epochs}: train loss {row['train_loss']:.4f}, "
        f"validation loss {valid}"
    )
    store.jobs.add_event(jid, f"epoch:{row['epoch']}", "metrics", message, row)
    store.jobs.complete_step(jid, f"epoch:{row['epoch']}")


def _model_meta(job: dict, body: dict, n_train: int) -> dict:
    """Describe a fine-tuned model for GET /v1/models."""
    return {
        "id": model_id_for(job),
        "object": "model",
        "created_at": now(),
        "owned_by": "tuneloop",
        "base_model": contracts.BASELINE_MODEL_ID,
        "job_id": job["id"],
        "task_types": body["router"]["classes"],
        "training_examples": n_train,
    }


def evaluate_fine_tuned(store: Store, job: dict) -> None:
    """Answer the evaluation suite with the fine-tuned agent."""
    cases = store.artifacts.get(job["id"], "eval_cases")
    body = store.models.body(model_id_for(job))
    if body is None:
        raise StageError("model_missing", f"model {model_id_for(job)} was not saved")
    agent = LearnedAgent.from_dict(body)
    answers = [a.to_dict() for a in agent.respond_many([c["input"] for c in cases])]
    store.artifacts.put(job["id"], "fine_tuned_answers", answers)
    store.artifacts.put(job["id"], "fine_tuned_metrics", metrics(cases, answers))


def compare(store: Store, job: dict) -> dict:
    """Assemble the report; the runner ends the job with it."""
    jid, art = job["id"], store.artifacts
    base, tuned = art.get(jid, "baseline_metrics"), art.get(jid, "fine_tuned_metrics")
    cases = art.get(jid, "eval_cases")
    result = {
        "training_data": art.get(jid, "training_data"),
        "baseline_metrics": base,
        "fine_tuned_metrics": tuned,
        "improvement": cmp.improvement(base, tuned),
        "model_id": model_id_for(job),
        "epochs": art.get(jid, "epochs"),
        "examples": cmp.side_by_side(
            cases, art.get(jid, "baseline_answers"), art.get(jid, "fine_tuned_answers")
        ),
    }
    return result


STEPS = {
    "collect": collect,
    "filter": filter_,
    "prepare": prepare,
    "evaluate_baseline": evaluate_baseline,
    "fine_tune": fine_tune,
    "evaluate_fine_tuned": evaluate_fine_tuned,
    "compare": compare,
}
