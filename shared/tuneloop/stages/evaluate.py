"""Evaluate: answer the evaluation cases and compute the lab's metrics, honestly defined."""

from collections.abc import Sequence
from statistics import fmean

from tuneloop.agent.lab import TEST_CASES
from tuneloop.stages.text import token_f1


def evaluation_cases(eval_set: Sequence[dict] | None, holdout: Sequence[dict] | None) -> list[dict]:
    """Return the job's eval set (or the lab's five test cases) plus any holdout examples."""
    cases = [dict(c) for c in (eval_set or TEST_CASES)]
    for ex in holdout or ():
        cases.append(
            {
                "input": ex["input"],
                "expected_type": ex["task_type"],
                "reference_output": ex["output"],
            }
        )
    return cases


def metrics(cases: Sequence[dict], answers: Sequence[dict]) -> dict:
    """Return the metrics over all cases and per expected task type."""
    result = _metrics(cases, answers)
    groups: dict[str, list[int]] = {}
    for i, case in enumerate(cases):
        groups.setdefault(case["expected_type"], []).append(i)
    result["by_task_type"] = {
        task: _metrics([cases[i] for i in idx], [answers[i] for i in idx])
        for task, idx in sorted(groups.items())
    }
    return result


def _metrics(cases: Sequence[dict], answers: Sequence[dict]) -> dict:
    accuracy = fmean(
        a["task_type"] == c["expected_type"] for c, a in zip(cases, answers, strict=True)
    )
    quality = [
        token_f1(a["text"], c["reference_output"])
        for c, a in zip(cases, answers, strict=True)
        if c.get("reference_output")
    ]
    response_quality = fmean(quality) if quality else None
    parts = [accuracy] + ([response_quality] if response_quality is not None else [])
    return {
        "n_cases": len(cases),
        "average_confidence": fmean(a["confidence"] for a in answers),
        "task_accuracy": accuracy,
        "response_quality": response_quality,
        "overall_score": fmean(parts),
    }
