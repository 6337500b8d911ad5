"""Compare: per-metric change from baseline to fine-tuned, and answers side by side."""

from collections.abc import Sequence

METRICS = (
    "average_confidence",
    "task_accuracy",
    "response_quality",
    "response_chrf",
    "overall_score",
)
# The evaluation cases compare keeps, one list each: the baseline right and the fine-tuned agent
# wrong; the reverse; both wrong. Each record is written once (a case is in one list).
CASE_LISTS = ("regressed", "improved", "both_wrong")
# What GET /v1/jobs/{id}/cases lists: the first two lists, and wrong, every case the fine-tuned
# agent got wrong whatever the baseline did (regressed and both_wrong, merged by index).
CASE_OUTCOMES = ("regressed", "improved", "wrong")
WRONG_LISTS = ("regressed", "both_wrong")

# How a report judges itself (numpy-free, so the report's schema describes the same rule).
RESAMPLES = 1000  # paired bootstrap resamples of the evaluation cases
CONFIDENCE_LEVEL = 0.95
MIN_CASES = 30  # fewer evaluation cases and the report says it cannot tell
ALPHA = 0.05  # McNemar's p-value must be below this for a conclusive verdict
TOP_CONFUSIONS = 10


def change(before: float | None, after: float | None) -> dict:
    """Return the absolute and relative change of one metric (relative is None from 0)."""
    if before is None or after is None:
        return {"absolute": None, "relative": None}
    absolute = after - before
    return {"absolute": absolute, "relative": absolute / before if before else None}


def improvement(baseline: dict, fine_tuned: dict) -> dict:
    """Return the absolute and relative change of each metric (relative is None from 0)."""
    return {name: change(baseline.get(name), fine_tuned.get(name)) for name in METRICS}


def case_counts(stored: dict[str, int]) -> dict[str, int]:
    """Return the report's case counts per listed outcome from the stored lists' counts (no
    wrong when one of its lists was not kept)."""
    counts = {o: stored[o] for o in CASE_OUTCOMES if o in stored}
    if any(o not in stored for o in WRONG_LISTS):
        return counts
    return {**counts, "wrong": sum(stored[o] for o in WRONG_LISTS)}


def side_by_side(
    cases: Sequence[dict], baseline: Sequence[dict], fine_tuned: Sequence[dict], limit: int = 10
) -> list[dict]:
    """Return the first cases with both agents' answers to the same input."""
    return [
        {
            "input": c["input"],
            "expected_type": c["expected_type"],
            "baseline": {
                "text": b["text"],
                "task_type": b["task_type"],
                "confidence": b["confidence"],
            },
            "fine_tuned": {
                "text": f["text"],
                "task_type": f["task_type"],
                "confidence": f["confidence"],
            },
        }
        for c, b, f in list(zip(cases, baseline, fine_tuned, strict=True))[:limit]
    ]
