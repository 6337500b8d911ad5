"""The webhook event types (OpenAI's names) and the payload each delivery sends."""

from typing import Final

from tuneloop import contracts, graph

FINE_TUNING_JOB_SUCCEEDED: Final = "fine_tuning.job.succeeded"
FINE_TUNING_JOB_FAILED: Final = "fine_tuning.job.failed"
FINE_TUNING_JOB_CANCELLED: Final = "fine_tuning.job.cancelled"
EVAL_RUN_SUCCEEDED: Final = "eval.run.succeeded"
EVAL_RUN_FAILED: Final = "eval.run.failed"
EVAL_RUN_CANCELED: Final = "eval.run.canceled"  # OpenAI spells this one with one l
MODEL_PROMOTED: Final = "model.promoted"
MODEL_ROLLED_BACK: Final = "model.rolled_back"
AUTOPILOT_RUN_STARTED: Final = "autopilot.run.started"
EVENT_TYPES: Final = (
    FINE_TUNING_JOB_SUCCEEDED,
    FINE_TUNING_JOB_FAILED,
    FINE_TUNING_JOB_CANCELLED,
    EVAL_RUN_SUCCEEDED,
    EVAL_RUN_FAILED,
    EVAL_RUN_CANCELED,
    MODEL_PROMOTED,
    MODEL_ROLLED_BACK,
    AUTOPILOT_RUN_STARTED,
)
EVERY: Final = "*"  # an endpoint's events: every type, those added later included

# The event a job's end is, by the job's kind and its final status.
JOB_ENDS: Final = {
    (graph.FINE_TUNING, contracts.SUCCEEDED): FINE_TUNING_JOB_SUCCEEDED,
    (graph.FINE_TUNING, contracts.FAILED): FINE_TUNING_JOB_FAILED,
    (graph.FINE_TUNING, contracts.CANCELLED): FINE_TUNING_JOB_CANCELLED,
    (graph.EVALUATION, contracts.SUCCEEDED): EVAL_RUN_SUCCEEDED,
    (graph.EVALUATION, contracts.FAILED): EVAL_RUN_FAILED,
    (graph.EVALUATION, contracts.CANCELLED): EVAL_RUN_CANCELED,
}


def subscribed(wanted: list[str], event_type: str) -> bool:
    """Whether an endpoint that wants these event types takes one of event_type."""
    return EVERY in wanted or event_type in wanted


def payload(event_id: str, event_type: str, created_at: int, data: dict) -> dict:
    """The body every delivery of an event sends (OpenAI's webhook event shape)."""
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created_at": created_at,
        "data": data,
    }


def job_end(job: dict) -> tuple[str, dict] | None:
    """The event type and data of an ended job's end; None while it has not ended."""
    event_type = JOB_ENDS.get((job["kind"], job["status"]))
    if event_type is None:
        return None
    result = job.get("result") or {}
    data = {
        "id": job["id"],
        "object": job["object"],
        "status": job["status"],
        "model_id": job.get("model_id") or result.get("model_id"),
        "error": job.get("error"),
        "created_at": job["created_at"],
        "finished_at": job["finished_at"],
    }
    if job["kind"] == graph.FINE_TUNING:
        data["promoted"] = bool((result.get("promotion") or {}).get("promoted"))
    return event_type, data


def promotion(job: dict) -> dict | None:
    """The data of the model.promoted event of a job whose success moved an alias, else None."""
    result = job.get("result") or {}
    promoted = result.get("promotion") or {}
    model_id = result.get("model_id")
    if job["status"] != contracts.SUCCEEDED or not promoted.get("promoted") or not model_id:
        return None
    return {
        "id": model_id,
        "object": "model",
        "alias": promoted.get("alias", contracts.LATEST_PROMOTED),
        "job_id": job["id"],
        "promoted_at": job["finished_at"],
    }
