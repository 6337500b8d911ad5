"""Our jobs and events as OpenAI's objects, and OpenAI's job request as ours: pure functions."""

import math

from tuneloop import contracts
from tuneloop.graph import AUTO, FINE_TUNING
from tuneloop.schemas.method import DPO, SUPERVISED, flat, method_hyperparameters
from tuneloop_gateway.compat.schemas import EXTRAS

FINE_TUNING_JOB = contracts.JOB_KINDS[FINE_TUNING]  # its id prefix and object name
LEVELS = {"warning": "warn"}  # ours -> OpenAI's; info and error are the same
EPOCH_EVENT = "metrics"


def our_request(body: dict, eval_set: list[dict] | None) -> dict:
    """Translate a validated OpenAI job request into the fields of our job request."""
    method = body.get("method") or {"type": SUPERVISED}
    hyper = flat(body.get("hyperparameters") or method_hyperparameters(method))
    if body.get("seed") is not None:
        hyper["seed"] = body["seed"]
    request: dict = {
        "model": body.get("model", contracts.BASELINE_MODEL_ID),
        "method": {"type": method["type"]},
        "include_synthetic": False,
        "hyperparameters": hyper,
    }
    if eval_set:  # without one the job schema holds out part of the rows (holdout_per_task)
        request["eval_set"] = eval_set
    for field in ("suffix", "metadata"):
        if body.get(field):
            request[field] = body[field]
    return request


def eval_cases(rows: list[dict]) -> list[dict]:
    """Turn a validation file's labelled rows into evaluation cases."""
    return [
        {"input": r["input"], "expected_type": r["task_type"], "reference_output": r["output"]}
        for r in rows
    ]


def _hyperparameters(job: dict, method: str) -> dict:
    """The job's controls under OpenAI's names ("auto" until prepare resolves them)."""
    hyper = job.get("hyperparameters") or {}
    scale = hyper.get("learning_rate_multiplier")
    out = {
        "n_epochs": hyper.get("n_epochs", AUTO),
        "batch_size": hyper.get("batch_size", AUTO),
        "learning_rate_multiplier": scale if scale is not None else AUTO,
    }
    if method == DPO:
        out["beta"] = hyper.get("beta", AUTO)
    return out


def _error(job: dict) -> dict | None:
    """A failed job's error, OpenAI's shape."""
    error = job.get("error")
    if not error:
        return None
    return {"code": error["code"], "message": error["message"], "param": None}


def _extras(job: dict) -> dict:
    """Our own fields: what OpenAI's job object has no place for."""
    result = job.get("result") or {}
    extras = {"kind": job["kind"], "stage": job["stage"], "progress": job["progress"]}
    if result:
        extras["report"] = {
            "baseline_metrics": result.get("baseline_metrics"),
            "fine_tuned_metrics": result.get("fine_tuned_metrics"),
            "improvement": result.get("improvement"),
            "training_data": result.get("training_data"),
        }
    return extras


def openai_job(job: dict) -> dict:
    """One of our fine-tuning jobs as OpenAI's fine_tuning.job object."""
    request = job["request"]
    training_file = request.get("training_file") or f"interactions@{job['snapshot_seq']}"
    method = request.get("method") or SUPERVISED
    hyper = _hyperparameters(job, method)
    succeeded = job["status"] == contracts.SUCCEEDED
    return {
        "id": job["id"],
        "object": FINE_TUNING_JOB.object,
        "model": request.get("model") or contracts.BASELINE_MODEL_ID,
        "created_at": job["created_at"],
        "finished_at": job["finished_at"],
        "fine_tuned_model": job["model_id"] if succeeded else None,
        "organization_id": job.get("owner") or "default",
        "status": job["status"],
        "training_file": training_file,
        "validation_file": request.get("validation_file"),
        "hyperparameters": hyper,
        "method": {"type": method, method: {"hyperparameters": hyper}},
        "seed": (request.get("hyperparameters") or {}).get("seed", 42),
        "result_files": [],
        "trained_tokens": None,
        "error": _error(job),
        "suffix": request.get("suffix"),
        "metadata": request.get("metadata") or None,
        "estimated_finish": None,
        "integrations": [],
        EXTRAS: _extras(job),
    }


def openai_event(event: dict) -> dict:
    """One of our job events as OpenAI's fine_tuning.job.event."""
    metrics = event["type"] == EPOCH_EVENT
    return {
        "id": event["id"],
        "object": "fine_tuning.job.event",
        "created_at": event["created_at"],
        "level": LEVELS.get(event["level"], event["level"]),
        "message": event["message"],
        "type": "metrics" if metrics else "message",
        "data": event.get("data") or {},
    }


def checkpoints(job: dict) -> list[dict]:
    """The kept checkpoints: the best epoch's weights, which the job's model holds."""
    result = job.get("result") or {}
    if job["status"] == contracts.SUCCEEDED and result.get("checkpoints"):
        return _adapter_checkpoints(job, result["checkpoints"])
    epochs, best = result.get("epochs") or [], result.get("best_epoch")
    if job["status"] != contracts.SUCCEEDED or not best or best > len(epochs):
        return []
    epoch = epochs[best - 1]
    rows = (result.get("training_data") or {}).get("total_examples") or 0
    batch = (result.get("hyperparameters") or {}).get("batch_size") or 1
    steps = best * max(1, math.ceil(rows / batch))
    return [
        {
            "id": f"ftckpt-{job['id'].removeprefix(FINE_TUNING_JOB.prefix + '-')}-{best}",
            "object": "fine_tuning.job.checkpoint",
            "created_at": job["finished_at"],
            "fine_tuned_model_checkpoint": job["model_id"],
            "fine_tuning_job_id": job["id"],
            "step_number": steps,
            "metrics": {
                "step": float(steps),
                "train_loss": epoch["train_loss"],
                "valid_loss": epoch.get("valid_loss"),
            },
        }
    ]


def _adapter_checkpoints(job: dict, kept: list[dict]) -> list[dict]:
    """A language model's adapter checkpoints, one per epoch, newest first, with metrics.

    The last epoch's adapter is the fine-tuned model; the earlier ones are kept in the
    artifact store under the job and named here by their epoch.
    """
    hexpart = job["id"].removeprefix(FINE_TUNING_JOB.prefix + "-")
    last = max(c["epoch"] for c in kept)
    return [
        {
            "id": f"ftckpt-{hexpart}-{c['epoch']}",
            "object": "fine_tuning.job.checkpoint",
            "created_at": job["finished_at"],
            "fine_tuned_model_checkpoint": job["model_id"]
            if c["epoch"] == last
            else f"{job['model_id']}:ckpt-epoch-{c['epoch']}",
            "fine_tuning_job_id": job["id"],
            "step_number": c["step"],
            "metrics": {
                "step": float(c["step"]),
                "train_loss": c["train_loss"],
                "valid_loss": c.get("valid_loss"),
                "full_valid_loss": c.get("full_valid_loss"),
            },
        }
        for c in sorted(kept, key=lambda c: -c["epoch"])
    ]
