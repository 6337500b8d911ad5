"""Compare: per-metric change from baseline to fine-tuned, and answers side by side."""

from collections.abc import Sequence

METRICS = ("average_confidence", "task_accuracy", "response_quality", "overall_score")


def improvement(baseline: dict, fine_tuned: dict) -> dict:
    """Return the absolute and relative change of each metric (relative is None from 0)."""
    out = {}
    for name in METRICS:
        before, after = baseline.get(name), fine_tuned.get(name)
        if before is None or after is None:
            out[name] = {"absolute": None, "relative": None}
            continue
        absolute = after - before
        out[name] = {"absolute": absolute, "relative": absolute / before if before else None}
    return out


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
