"""What a job's page and the jobs list lead with: the verdict, the models, the setup used."""

import json

from tuneloop import contracts, graph
from tuneloop.report.format import p_value
from tuneloop.report_metrics import HEADLINE, LANGUAGE

EPOCH_STAGE = "fine_tune"  # the stage that trains epoch by epoch (tuneloop.pipeline.fine_tune)
NONE = "\u2013"  # an en dash: no value
HIDDEN_REQUEST = ("hyperparameters", "eval_set")  # shown elsewhere (used values), or too long


def has_epochs(kind: str) -> bool:
    """Whether a job of this kind trains in epochs (an evaluation job does not)."""
    return EPOCH_STAGE in graph.stages_of(kind) if kind in graph.PIPELINES else False


def models_of(job: dict) -> dict:
    """Return the two models a job's report compares: the reference and the candidate."""
    request, result = job.get("request") or {}, job.get("result") or {}
    named = result.get("models") or {}
    if job["kind"] == graph.EVALUATION:
        return {
            "reference": named.get("baseline") or request.get("model_a"),
            "candidate": named.get("fine_tuned") or request.get("model_b"),
            "reference_role": "model A, reference",
            "candidate_role": "model B, candidate",
        }
    return {
        "reference": request.get("model") or contracts.BASELINE_MODEL_ID,
        "candidate": job.get("model_id") or result.get("model_id"),
        "reference_role": "base model",
        "candidate_role": "fine-tuned model",
    }


def main_metric(result: dict) -> dict | None:
    """Return the first headline metric both agents have: its name, both values, the change."""
    base, tuned = result.get("baseline_metrics") or {}, result.get("fine_tuned_metrics") or {}
    for name in (*HEADLINE, *LANGUAGE):
        if base.get(name) is not None and tuned.get(name) is not None:
            change = ((result.get("improvement") or {}).get(name) or {}).get("absolute")
            return {
                "name": name,
                "baseline": base[name],
                "fine_tuned": tuned[name],
                "change": change,
            }
    return None


def verdict(result: dict) -> dict | None:
    """Return the report's verdict: whether it is established, its direction and its sentence."""
    sig = result.get("significance")
    if not sig:
        return None
    change = ((result.get("improvement") or {}).get("task_accuracy") or {}).get("absolute")
    direction = "unclear"
    if sig.get("conclusive") and change:
        direction = "better" if change > 0 else "worse"
    return {
        "conclusive": bool(sig.get("conclusive")),
        "direction": direction,
        "sentence": sig.get("verdict"),
        "p": p_value((sig.get("mcnemar") or {}).get("p_value")),
        "n_cases": sig.get("n_cases"),
    }


def short_verdict(result: dict) -> str:
    """One or two words for the jobs list: better, worse or cannot tell; promoted or not."""
    found = verdict(result)
    words = {"better": "better", "worse": "worse", "unclear": "cannot tell"}
    text = words[found["direction"]] if found else NONE
    promotion = result.get("promotion")
    if promotion is not None:
        text += " · promoted" if promotion.get("promoted") else " · not promoted"
    return text


def hyperparameter_rows(job: dict) -> list[dict]:
    """Return per hyperparameter: the value used (auto resolved) and the one asked for."""
    used = job.get("hyperparameters") or (job.get("result") or {}).get("hyperparameters") or {}
    asked = (job.get("request") or {}).get("hyperparameters") or {}
    return [
        {"name": name, "used": shown(used.get(name)), "asked": shown(asked.get(name, NONE))}
        for name in sorted(set(used) | set(asked))
    ]


def request_rows(job: dict) -> list[dict]:
    """Return the request's other fields as name and value, in name order."""
    request = job.get("request") or {}
    return [
        {"name": name, "value": shown(value)}
        for name, value in sorted(request.items())
        if name not in HIDDEN_REQUEST
    ]


def shown(value: object) -> str:
    """Write a request or hyperparameter value as the API has it (JSON; a string as is)."""
    if value is None:
        return "null"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def duration(job: dict, now: int) -> int | None:
    """Return the seconds a job ran (so far, while it runs); None before it started."""
    started = job.get("started_at")
    if started is None:
        return None
    return max(0, (job.get("finished_at") or now) - started)


def seconds_text(seconds: int | None) -> str:
    """Write a duration as 42 s, 3 min 5 s or 2 h 10 min."""
    if seconds is None:
        return NONE
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
